"""A container's id maps for ``--userns=keep-id|nomap`` and ``--uidmap``/``--gidmap``.

As in Podman, these maps are written in the terms of the user's default namespace (the
store's: id 0 = the user, 1..N = the subordinate ids), not in host ids: ``--uidmap 0:1:1000``
maps container 0..999 to the first 1000 subordinate ids.  ``ContainerMaps`` keeps that form
(``uid``/``gid`` segments ``(container, ns_id, size)``) and gives the host form for the OCI
config (``host_uid_map``/``host_gid_map``), composed with the default mapping.
"""

from __future__ import annotations

import json
import os

from rootless.subid import IdMap, Mapping
from rpod.container.options import RunOptions, parse_idmap, parse_userns
from rpod.errors import UsageError
from rpod.records import record

Segment = tuple[int, int, int]  # (container id, id in the default namespace, size)


@record(frozen=True)
class ContainerMaps:
    """Maps that differ from the default namespace's identity (so the layers need shifting)."""

    uid: tuple[Segment, ...]
    gid: tuple[Segment, ...]

    def key(self) -> str:
        """A short stable name for the map (the cache key of shifted layer copies)."""
        import hashlib  # lazy: ~2.5 ms, only keep-id/--uidmap containers need it

        data = json.dumps({"uid": self.uid, "gid": self.gid}, separators=(",", ":"))
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def as_json(self) -> str:
        return json.dumps({"uid": [list(s) for s in self.uid], "gid": [list(s) for s in self.gid]})

    def maps_user(self) -> bool:
        """Whether the user's own uid and gid (id 0 of the default namespace) are in the maps."""
        return any(i == 0 for _c, i, _n in self.uid) and any(i == 0 for _c, i, _n in self.gid)

    def host_uid_map(self, default: Mapping) -> list[dict[str, int]]:
        return _to_host(self.uid, default.uid_map, "uid")

    def host_gid_map(self, default: Mapping) -> list[dict[str, int]]:
        return _to_host(self.gid, default.gid_map, "gid")


def _keep_id(own: int, total: int) -> tuple[Segment, ...]:
    """Container ``own`` -> the user (0); container 0..own-1 -> 1..own; the rest as is."""
    if own + 1 > total:
        raise UsageError(f"--userns=keep-id: id {own} is outside the {total} ids you can map",
                         hint="pick a smaller keep-id:uid=/gid= or add subordinate ids (usermod --add-subuids)")
    segs = [(0, 1, own), (own, 0, 1)] if own else [(0, 0, 1)]
    if total - own - 1 > 0:
        segs.append((own + 1, own + 1, total - own - 1))
    return tuple(s for s in segs if s[2] > 0)


def for_options(opts: RunOptions, default: Mapping) -> ContainerMaps | None:
    """The container's maps, or None when it uses the default mapping unchanged."""
    userns = parse_userns(opts.userns)
    total_u = sum(m.size for m in default.uid_map)
    total_g = sum(m.size for m in default.gid_map)
    if opts.uidmap or opts.gidmap:
        if userns.mode:
            raise UsageError(f"--userns={opts.userns} cannot be combined with --uidmap/--gidmap")
        uid = tuple(_segment(parse_idmap(v)) for v in opts.uidmap)
        gid = tuple(_segment(parse_idmap(v)) for v in opts.gidmap) or uid
        uid = uid or gid
    elif userns.mode == "keep-id":
        uid = _keep_id(os.getuid() if userns.uid is None else userns.uid, total_u)
        gid = _keep_id(os.getgid() if userns.gid is None else userns.gid, total_g)
    elif userns.mode == "nomap":
        if total_u < 2 or total_g < 2:
            raise UsageError("--userns=nomap needs subordinate ids", hint="add a range: usermod --add-subuids")
        uid, gid = ((0, 1, total_u - 1),), ((0, 1, total_g - 1),)
    elif userns.mode == "auto":
        size = userns.size or min(total_u, total_g) - 1
        if size < 1 or size > min(total_u, total_g) - 1:
            raise UsageError(f"--userns=auto:size={size}: you have {min(total_u, total_g) - 1} subordinate ids")
        uid = gid = ((0, 1, size),)
    else:
        return None
    for name, segs, total in (("uid", uid, total_u), ("gid", gid, total_g)):
        _check(name, segs, total)
    if uid == ((0, 0, total_u),) and gid == ((0, 0, total_g),):
        return None
    return ContainerMaps(uid, gid)


def _segment(d: dict[str, int]) -> Segment:
    return (d["containerID"], d["hostID"], d["size"])


def _check(name: str, segs: tuple[Segment, ...], total: int) -> None:
    for c, i, n in segs:
        if i + n > total:
            raise UsageError(f"--{name}map {c}:{i}:{n}: ids {i}..{i + n - 1} are outside the {total} ids "
                             "of your user namespace (0 = you, 1.. = your subordinate ids)",
                             hint="see them with: rpod unshare cat /proc/self/uid_map")
    for a in segs:
        for b in segs:
            if a is not b and (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] or a[1] < b[1] + b[2] and b[1] < a[1] + a[2]):
                raise UsageError(f"--{name}map ranges overlap: {a[0]}:{a[1]}:{a[2]} and {b[0]}:{b[1]}:{b[2]}")


def _to_host(segs: tuple[Segment, ...], default: tuple[IdMap, ...], kind: str) -> list[dict[str, int]]:
    """Compose ``container -> ns id`` with the default ``ns id -> host id`` map, splitting ranges."""
    out: list[dict[str, int]] = []
    for c, i, n in segs:
        while n > 0:
            m = next((m for m in default if m.container_id <= i < m.container_id + m.size), None)
            if m is None:
                raise UsageError(f"{kind} {i} is not mapped in your user namespace")
            take = min(n, m.container_id + m.size - i)
            out.append({"containerID": c, "hostID": m.host_id + (i - m.container_id), "size": take})
            c, i, n = c + take, i + take, n - take
    out.sort(key=lambda d: d["containerID"])
    return out
