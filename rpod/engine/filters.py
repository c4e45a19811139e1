"""Every ``--filter`` of every command, with Podman's semantics per key.

``parse`` turns ``KEY=VALUE`` flags into ``{key: [values]}``.  Across keys, filters are AND-ed.
Within one key the values are OR-ed (any may match), except:

- ``label``: every given label must match (``containers/common`` ``MatchLabelFilters``); a
  ``KEY`` alone matches any value, ``*`` in a key is a glob;
- ``label!``: the object is kept only if none of the given labels matches;
- ``until``: the object must be older than every given time;
- ``dangling``/``anonymous``/``readonly`` (booleans): the last value counts.

Events are the exception Podman makes: there all filters of one key, labels too, are OR-ed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping

from rpod.errors import UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

Filters = dict[str, list[str]]


def parse(items: Iterable[str] | None) -> Filters:
    """``--filter key=value`` flags → ``{key: [values]}``."""
    out: Filters = {}
    for f in items or []:
        key, sep, value = f.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid filter {f!r}: expected key=value")
        out.setdefault(key, []).append(value)
    return out


def check_keys(filters: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    """Raise Podman-style ``UsageError`` for a key ``what`` (e.g. "volume") does not know."""
    allowed = tuple(allowed)
    for key in filters:
        if key not in allowed:
            raise UsageError(f"invalid {what} filter {key!r}", hint=f"valid filters: {', '.join(allowed)}")


def _label_hit(spec: str, labels: Mapping[str, str]) -> bool:
    key, sep, value = spec.partition("=")
    for k, v in labels.items():
        if (not sep or v == value) and (k == key or ("*" in key and fnmatch.fnmatchcase(k, f"*{key}*"))):
            return True
    return False


def labels_all(values: Iterable[str], labels: Mapping[str, str]) -> bool:
    """``label=``: every given ``KEY[=VALUE]`` is among ``labels``."""
    return all(_label_hit(v, labels) for v in values)


def labels_none(values: Iterable[str], labels: Mapping[str, str]) -> bool:
    """``label!=``: none of the given ``KEY[=VALUE]`` is among ``labels``."""
    return not any(_label_hit(v, labels) for v in values)


def regex_any(values: Iterable[str], text: str) -> bool:
    """Podman's name filters: unanchored regular expressions, any may match."""
    for v in values:
        try:
            if re.search(v, text):
                return True
        except re.error as e:
            raise UsageError(f"invalid name filter {v!r}: {e}") from None
    return False


def prefix_any(values: Iterable[str], ident: str) -> bool:
    """``id=``: a (short) id prefix, any may match."""
    return any(ident.startswith(v.removeprefix("sha256:")) for v in values)


def boolean(values: list[str], key: str) -> bool:
    """``dangling=true`` and friends (the last value counts)."""
    v = values[-1].lower()
    if v not in ("true", "1", "false", "0"):
        raise UsageError(f'"{values[-1]}" is not a valid value for the "{key}" filter - must be true or false')
    return v in ("true", "1")


def _time(value: str) -> float:
    from rpod.humanize import parse_time

    return parse_time(value)


def older_than_all(values: Iterable[str], created: float | str) -> bool:
    """``until=``: created before every given time (RFC 3339, UNIX seconds or a duration ago)."""
    from rpod.duration import time_arg

    when = _time(created) if isinstance(created, str) else created
    return all(when < (time_arg(v, "until") or 0) for v in values)


def _common(key: str, values: list[str], labels: Mapping[str, str]) -> bool | None:
    """The label keys, shared by every kind of object (None: not a label key)."""
    if key == "label":
        return labels_all(values, labels)
    if key == "label!":
        return labels_none(values, labels)
    return None


# ------------------------------------------------------------------------------------ containers
CONTAINER_KEYS = ("name", "id", "status", "label", "label!", "exited", "health", "ancestor", "until", "pod",
                  "restart-policy")
RESTART_POLICIES = ("none", "no", "on-failure", "always", "unless-stopped")


CONTAINER_STATES = ("created", "configured", "running", "stopped", "paused", "exited", "removing", "stopping",
                    "unknown")


def check_container_states(values: list[str]) -> None:
    """``status=``: Podman's error for a state it does not know."""
    for v in values:
        if v not in CONTAINER_STATES:
            raise UsageError(f"unknown container state: {v}: invalid argument")


def check_restart_policies(values: list[str]) -> None:
    """Podman's error for ``restart-policy=`` values it does not know (before anything is listed)."""
    bad = [v for v in values if v not in RESTART_POLICIES]
    if bad:
        raise UsageError(f"{', '.join(bad)} invalid restart {'policies' if len(bad) > 1 else 'policy'}")


def container(rec: Any, st: Any, filters: Filters, health: Callable[[], str]) -> bool:
    """``ps --filter``; ``health()`` gives the health status (read only when asked)."""
    for key, values in filters.items():
        ok = _common(key, values, rec.labels)
        if ok is not None:
            pass
        elif key == "name":
            ok = regex_any(values, rec.name)
        elif key == "id":
            ok = prefix_any(values, rec.id)
        elif key == "status":  # libpod: an exited container is also "stopped", a created one "configured"
            names = {st.status, *{"exited": ("stopped",), "created": ("configured",)}.get(st.status, ())}
            ok = bool(names & set(values)) or ("running" in values and st.status == "stopping")
        elif key == "exited":
            ok = st.status == "exited" and str(st.exit_code) in values
        elif key == "health":
            ok = st.status == "running" and health() in values
        elif key == "ancestor":
            ok = any(v in (rec.image_name, rec.image_id) or rec.image_id.startswith(v)
                     or rec.image_name.split("/")[-1].startswith(v) for v in values)
        elif key == "until":
            ok = older_than_all(values, rec.created)
        elif key == "pod":
            ok = _in_pod(rec, values)
        elif key == "restart-policy":
            policy = (rec.options.restart or "").partition(":")[0]
            ok = any(policy == v or (v == "none" and not policy) for v in values)
        else:
            raise UsageError(f"invalid filter {key!r}: use name, id, status, label, exited, ancestor, pod or health")
        if not ok:
            return False
    return True


def _in_pod(rec: Any, values: list[str]) -> bool:
    from rpod.container.namespaces import record_option

    pod = record_option(rec, "pod") or ""
    if not pod:
        return False
    from rpod.paths import Paths
    from rpod.pod.store import PodStore

    rec_pod = PodStore(Paths.default()).load(pod)
    return any(pod.startswith(v) or (rec_pod is not None and rec_pod.name == v) for v in values)


PRUNE_KEYS = ("label", "label!", "until")


def check_prune(filters: Mapping[str, Any], what: str = "prune") -> None:
    """Fail on a key ``prune`` does not know, before anything is removed."""
    for key in filters:
        if key not in PRUNE_KEYS:
            raise UsageError(f"invalid filter {key!r} for {what}: use label, label! or until")


def prune(labels: Mapping[str, str], created: float, filters: Filters, what: str = "prune") -> bool:
    """``... prune --filter`` (containers, images, volumes, networks): label, label!, until."""
    for key, values in filters.items():
        ok = _common(key, values, labels)
        if ok is None:
            if key != "until":
                raise UsageError(f"invalid filter {key!r} for {what}: use label, label! or until")
            ok = older_than_all(values, created)
        if not ok:
            return False
    return True


# ---------------------------------------------------------------------------------------- images
IMAGE_KEYS = ("dangling", "reference", "label", "label!", "before", "since", "after", "id", "readonly", "until")


def _reference_hit(name: str, pattern: str) -> bool:
    repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    if ":" in pattern.rsplit("/", 1)[-1]:
        candidates = [name, name.split("/", 1)[-1]]
    else:
        candidates = [repo, repo.split("/", 1)[-1], repo.rsplit("/", 1)[-1]]
    return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def reference_names(names: list[str], patterns: list[str]) -> list[str]:
    """The names that a ``reference=`` filter (or ``images REPOSITORY``) matches: Podman lists
    only those rows of a matching image."""
    return [n for n in names if any(_reference_hit(n, p) for p in patterns)]


def image(rec: Any, filters: Filters, labels: Callable[[], Mapping[str, str]],
          created_of: Callable[[str], float]) -> bool:
    """``images --filter``: ``labels()`` reads the image config only when asked; ``created_of(ref)``
    is the creation time of another image (``before``/``since``)."""
    created = _time(rec.created)
    for key, values in filters.items():
        if key in ("label", "label!"):
            ok = _common(key, values, labels())
        elif key == "dangling":
            ok = (not rec.names) == boolean(values, key)
        elif key == "reference":
            ok = any(_reference_hit(n, v) for n in rec.names for v in values)
        elif key == "id":
            ok = prefix_any(values, rec.id)
        elif key == "before":
            ok = created < created_of(values[-1])
        elif key in ("since", "after"):  # libimage: after is since's other name
            ok = created > created_of(values[-1])
        elif key == "readonly":
            ok = not boolean(values, key)
        elif key == "until":
            ok = older_than_all(values, created)
        else:
            raise UsageError(f"invalid image filter {key!r}", hint="use dangling, reference, label, before, since or id")
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------------- volumes
VOLUME_KEYS = ("name", "label", "label!", "driver", "dangling", "anonymous", "scope", "opt", "until")


def volume(vol: Any, filters: Filters, used: Callable[[], bool]) -> bool:
    """``volume ls --filter``; ``used()`` (whether a container uses it) is read only for ``dangling``."""
    for key, values in filters.items():
        ok = _common(key, values, vol.labels)
        if ok is not None:
            pass
        elif key == "name":
            ok = regex_any(values, vol.name)
        elif key == "driver":
            ok = vol.driver in values
        elif key == "dangling":
            ok = (not used()) == boolean(values, key)
        elif key == "anonymous":
            ok = vol.anonymous == boolean(values, key)
        elif key == "scope":
            ok = "local" in values
        elif key == "opt":
            ok = any(_label_hit(v, vol.options or {}) for v in values)
        elif key == "until":
            ok = older_than_all(values, vol.created)
        else:
            raise UsageError(f"invalid volume filter {key!r}",
                             hint="valid filters: name, label, label!, driver, dangling, anonymous, scope")
        if not ok:
            return False
    return True


# -------------------------------------------------------------------------------------- networks
NETWORK_KEYS = ("name", "id", "driver", "label", "label!", "until")


def network(net: Any, filters: Filters) -> bool:
    """``network ls --filter``."""
    for key, values in filters.items():
        ok = _common(key, values, net.labels)
        if ok is not None:
            pass
        elif key == "name":
            ok = regex_any(values, net.name)
        elif key == "id":
            ok = prefix_any(values, net.id)
        elif key == "driver":
            ok = net.driver in values
        elif key == "until":
            ok = older_than_all(values, net.created)
        else:
            raise UsageError(f"invalid network filter {key!r}", hint="valid filters: name, id, driver, label, label!")
        if not ok:
            return False
    return True


# ---------------------------------------------------------------------------------------- events
EVENT_KEYS = ("event", "status", "type", "container", "volume", "image", "label")


def check_keys_events(filters: Mapping[str, Any]) -> None:
    """Fail on an ``events`` filter key Podman does not know."""
    bad = [k for k in filters if k not in EVENT_KEYS]
    if bad:
        raise UsageError(f"{bad[0]!r} is an invalid filter: use {', '.join(EVENT_KEYS)}")


def event(ev: Mapping[str, Any], filters: Filters) -> bool:
    """``events --filter``: Podman ORs every filter of one key (labels too), ANDs the keys."""
    for key, values in filters.items():
        if key in ("event", "status"):
            hit = ev.get("Status") in values
        elif key == "type":
            hit = ev.get("Type") in values
        elif key in ("container", "volume"):
            hit = ev.get("Type") == key and any(
                v == ev.get("Name") or (v and str(ev.get("ID", "")).startswith(v)) for v in values)
        elif key == "image":
            hit = any(v in (ev.get("Image"), ev.get("Name")) or (v and str(ev.get("ID", "")).startswith(v))
                      for v in values)
        elif key == "label":
            hit = any(_label_hit(v, ev.get("Attributes") or {}) for v in values)
        else:
            raise UsageError(f"{key!r} is an invalid filter: use event, type, container, image, volume or label")
        if not hit:
            return False
    return True
