"""``:U`` on a mount: chown its source to the container's user, as root of a user namespace
with the container's id mappings; at create time, and again at start when it changed owner."""

from __future__ import annotations

import os
from typing import Any

from rpod.container.options import RunOptions
from rpod.errors import RpodError


def chown_in_userns(sources: list[str], uid: int, gid: int, uid_map: list[dict[str, int]],
                     gid_map: list[dict[str, int]], what: str = "':U'") -> None:
    """``chown -R uid:gid`` of host paths as root of a user namespace with the container's
    mappings (the user's default ones when the spec has none), for ``:U`` and ``--secret uid=``."""
    from rootless.subid import IdMap, Mapping, default_mapping
    from rootless.userns import run

    mapping = (Mapping(tuple(map(IdMap.from_oci, uid_map)), tuple(map(IdMap.from_oci, gid_map)), "subid")
               if uid_map and gid_map else default_mapping())
    proc = run(["chown", "-R", f"{uid}:{gid}", "--", *sources], mapping, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot chown {', '.join(sources)} to {uid}:{gid} for {what}: "
                        f"{(proc.stderr or '').strip() or f'exit {proc.returncode}'}",
                        hint="check the paths are owned by you or your subordinate ids")


def rechown_at_start(opts: RunOptions, spec: dict[str, Any]) -> None:
    """``:U`` at each start, as Podman: a source whose top directory is no longer owned by the
    container's user (someone chowned it since) is chowned again, recursively."""
    from rpod.volume.volumes import parse_all

    reqs = [r for r in parse_all(opts.volumes, opts.mounts, opts.tmpfs) if r.chown and r.type != "tmpfs"]
    if not reqs:
        return
    user = (spec.get("process") or {}).get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    linux = spec.get("linux") or {}
    uid_map, gid_map = linux.get("uidMappings") or [], linux.get("gidMappings") or []
    want_uid, want_gid = _host_id(uid, uid_map), _host_id(gid, gid_map)
    sources = []
    for m in spec.get("mounts") or []:
        if any(r.destination == m.get("destination") for r in reqs) and m.get("source"):
            try:
                st = os.stat(m["source"])
            except OSError:
                continue
            if (st.st_uid, st.st_gid) != (want_uid, want_gid):
                sources.append(m["source"])
    if sources:
        chown_in_userns(sources, uid, gid, uid_map, gid_map)


def _host_id(cid: int, maps: list[dict[str, int]]) -> int:
    """The host id of container id ``cid`` under OCI ``maps`` (the user's default map when none)."""
    if not maps:
        from rootless.subid import default_mapping

        maps = [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size}
                for m in default_mapping().uid_map]
    for m in maps:
        if m["containerID"] <= cid < m["containerID"] + m["size"]:
            return m["hostID"] + cid - m["containerID"]
    return -1
