"""Read /etc/subuid and /etc/subgid and turn them into user-namespace id maps.

An id map is a list of ``IdMap(container_id, host_id, size)`` entries, the same
triple as the OCI ``linux.uidMappings`` entries.  The default map puts container
root on the user's own id and container ids 1..N on the subordinate range, as
Podman does, so files a container writes into a bind mount belong to the user.
"""

from __future__ import annotations

import os
import pwd
from collections import namedtuple

from rootless.errors import SubidError

# plain strings and named tuples: pathlib and dataclasses would cost every runtime process ~8 ms
SUBUID_FILE = "/etc/subuid"
SUBGID_FILE = "/etc/subgid"
RECOMMENDED_SIZE = 65536


class IdMap(namedtuple("IdMap", "container_id host_id size")):
    """One id map line: ``size`` ids from ``container_id`` inside are ``host_id``.. outside."""

    __slots__ = ()

    def to_oci(self) -> dict[str, int]:
        return {"containerID": self.container_id, "hostID": self.host_id, "size": self.size}

    @classmethod
    def from_oci(cls, d: dict[str, int]) -> IdMap:
        return cls(int(d["containerID"]), int(d["hostID"]), int(d["size"]))


def parse_subid_file(text: str, user: str, uid: int) -> list[tuple[int, int]]:
    """Return the ``(start, count)`` ranges listed for ``user`` (by name or numeric id)."""
    ranges: list[tuple[int, int]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3:
            continue
        owner, start, count = parts
        if owner not in (user, str(uid)):
            continue
        try:
            ranges.append((int(start), int(count)))
        except ValueError:
            continue
    return ranges


def read_ranges(path: str | os.PathLike[str], user: str, uid: int) -> list[tuple[int, int]]:
    """Ranges for ``user`` in ``path``; an unreadable or missing file has none."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    return parse_subid_file(text, user, uid)


class Mapping(namedtuple("Mapping", "uid_map gid_map mode reason", defaults=("",))):
    """The uid and gid maps of the user's default namespace and how they were chosen:
    ``uid_map``/``gid_map`` (tuples of ``IdMap``), ``mode`` ("subid": own id + subordinate
    range, "single": own id only, "host": real root) and ``reason`` (why "single" was chosen)."""

    __slots__ = ()

    @property
    def size(self) -> int:
        """How many container uids are mapped (0..size-1 when contiguous)."""
        return sum(m.size for m in self.uid_map)

    def uid_map_oci(self) -> list[dict[str, int]]:
        return [m.to_oci() for m in self.uid_map]

    def gid_map_oci(self) -> list[dict[str, int]]:
        return [m.to_oci() for m in self.gid_map]


def _maps_from_ranges(own: int, ranges: list[tuple[int, int]]) -> tuple[IdMap, ...]:
    maps = [IdMap(0, own, 1)]
    next_id = 1
    for start, count in ranges:
        if count <= 0:
            continue
        maps.append(IdMap(next_id, start, count))
        next_id += count
    return tuple(maps)


def _overlaps(own: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= own < start + count for start, count in ranges)


def fix_hint(user: str) -> str:
    return (
        f"add one as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user} "
        "(the range must not overlap other users' ranges)"
    )


def default_mapping(
    uid: int | None = None,
    gid: int | None = None,
    user: str | None = None,
    subuid_file: str | os.PathLike[str] = SUBUID_FILE,
    subgid_file: str | os.PathLike[str] = SUBGID_FILE,
    strict: bool = False,
) -> Mapping:
    """The default rootless mapping for the current (or given) user.

    Without a subuid/subgid range this falls back to a single-id map (container
    root = the user) and records why; with ``strict`` it raises ``SubidError``.
    """
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    if user is None:
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
    uranges = read_ranges(subuid_file, user, uid)
    granges = read_ranges(subgid_file, user, uid)
    problem = ""
    if uid == 0:
        # real root: map the whole range 1:1, there is nothing subordinate about it
        full = (IdMap(0, 0, 4294967295),)
        return Mapping(full, full, "host")
    if not uranges:
        problem = f"no subuid range for user {user} in {subuid_file}"
    elif not granges:
        problem = f"no subgid range for user {user} in {subgid_file}"
    elif _overlaps(uid, uranges):
        problem = f"the subuid range of {user} in {subuid_file} contains the user's own uid {uid}"
    elif _overlaps(gid, granges):
        problem = f"the subgid range of {user} in {subgid_file} contains the user's own gid {gid}"
    if problem:
        if strict:
            raise SubidError(problem, hint=fix_hint(user))
        own_u, own_g = (IdMap(0, uid, 1),), (IdMap(0, gid, 1),)
        return Mapping(own_u, own_g, "single", reason=f"{problem}; {fix_hint(user)}")
    return Mapping(_maps_from_ranges(uid, uranges), _maps_from_ranges(gid, granges), "subid")


def map_id(maps: tuple[IdMap, ...] | list[IdMap], container_id: int) -> int | None:
    """Host id of ``container_id`` under ``maps``, or None when unmapped."""
    for m in maps:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + (container_id - m.container_id)
    return None
