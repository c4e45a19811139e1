"""``--change`` instructions for ``import`` (and ``commit``): Dockerfile lines applied to a config.

As Podman (``libimage.ImageConfigFromChanges``): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.  JSON arrays are exec form; anything else is
the shell form (``/bin/sh -c "..."``) for CMD/ENTRYPOINT, whitespace-separated words otherwise.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from rpod.errors import UsageError

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def _json_list(value: str) -> list[str] | None:
    if value.startswith("["):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        if isinstance(doc, list) and all(isinstance(x, str) for x in doc):
            return doc
    return None


def _pairs(value: str, what: str) -> dict[str, str]:
    """``K=V K2="v 2"`` or the legacy ``K V`` form."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise UsageError(f"invalid {what} {value!r}: expected KEY=VALUE")
        return {words[0]: value.split(None, 1)[1].strip()}
    out = {}
    for w in words:
        k, sep, v = w.partition("=")
        if not sep or not k:
            raise UsageError(f"invalid {what} {w!r}: expected KEY=VALUE")
        out[k] = v
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply ``changes`` to an image's ``config`` section (the dict is changed and returned)."""
    for change in changes:
        word, _, value = change.strip().partition(" ")
        if "=" in word and not value:  # "CMD=/bin/sh" is accepted by Podman too
            word, _, value = change.strip().partition("=")
        key = word.upper()
        value = value.strip()
        if key not in ALLOWED:
            raise UsageError(f"invalid change {change!r} - invalid instruction {word}")
        if key in ("CMD", "ENTRYPOINT"):
            exec_form = _json_list(value)
            config["Cmd" if key == "CMD" else "Entrypoint"] = exec_form if exec_form is not None else [
                "/bin/sh", "-c", value]
        elif key == "ENV":
            env = [e for e in config.get("Env") or []]
            for k, v in _pairs(value, "ENV").items():
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            config["Env"] = env
        elif key == "LABEL":
            config.setdefault("Labels", {}).update(_pairs(value, "LABEL"))
        elif key == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in value.split():
                ports[p if "/" in p else f"{p}/tcp"] = {}
        elif key == "VOLUME":
            vols = config.setdefault("Volumes", {})
            for v in _json_list(value) or value.split():
                vols[v] = {}
        elif key == "ONBUILD":
            config.setdefault("OnBuild", []).append(value)
        else:
            config[{"STOPSIGNAL": "StopSignal", "USER": "User", "WORKDIR": "WorkingDir"}[key]] = value
    return config
