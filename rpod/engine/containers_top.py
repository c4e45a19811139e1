"""``top``: the processes of a running container, read from ``/proc`` (ids shown as the
container sees them)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rpod.duration import format_seconds
from rpod.engine import containers
from rpod.errors import StateConflict, UsageError

if TYPE_CHECKING:
    from rpod.paths import Paths

TOP_DEFAULT = ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"]
TOP_HEADERS = {"user": "USER", "pid": "PID", "ppid": "PPID", "pcpu": "%CPU", "etime": "ELAPSED",
                "tty": "TTY", "time": "TIME", "args": "COMMAND", "comm": "COMMAND", "uid": "UID",
                "group": "GROUP", "gid": "GID", "nice": "NI", "vsz": "VSZ", "state": "STATE",
                "huser": "HUSER", "hpid": "HPID"}


def _id_map(path: str) -> list[tuple[int, int, int]]:
    try:
        with open(path) as f:
            return [tuple(int(x) for x in ln.split()) for ln in f if ln.strip()]  # type: ignore[misc]
    except OSError:
        return []


def _to_ctr(host_id: int, mapping: list[tuple[int, int, int]]) -> int:
    for inside, outside, count in mapping:
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    return 65534


def _names(path: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        with open(path, errors="replace") as f:
            for ln in f:
                parts = ln.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    out.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return out


def _proc_row(pid: int, uidmap: list[Any], gidmap: list[Any], users: dict[int, str], groups: dict[int, str],
              nspid: dict[int, int]) -> dict[str, str]:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            status[k] = v.strip()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().replace(b"\0", b" ").decode(errors="replace")
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    elapsed = max(uptime - int(fields[19]) / tck, 0.0)
    cpu = (int(fields[11]) + int(fields[12])) / tck
    uid = _to_ctr(int(status["Uid"].split()[1]), uidmap)
    gid = _to_ctr(int(status["Gid"].split()[1]), gidmap)
    tty_nr = int(fields[4])
    return {
        "user": users.get(uid, str(uid)), "uid": str(uid), "group": groups.get(gid, str(gid)), "gid": str(gid),
        "pid": str(nspid.get(pid, pid)), "ppid": str(nspid.get(int(fields[1]), 0)),
        "pcpu": f"{(cpu / elapsed * 100) if elapsed else 0.0:.3f}", "etime": format_seconds(elapsed),
        "tty": "?" if tty_nr == 0 else f"pts/{os.minor(tty_nr)}", "time": format_seconds(float(int(cpu))),
        "args": args or f"[{comm}]", "comm": comm, "nice": fields[16], "vsz": str(int(fields[20]) // 1024),
        "state": fields[0], "huser": status["Uid"].split()[1], "hpid": str(pid),
    }


def top(ref: str | None, descriptors: list[str], latest: bool = False,
        paths: Paths | None = None) -> list[list[str]]:
    """The processes of a running container as rows (the first is the header) of ``descriptors``
    (``ps``-style: user, pid, ppid, pcpu, etime, tty, time, args, ...), read from ``/proc``."""
    store = containers.container_store(paths)
    rec = store.latest() if latest else store.get(ref or "")
    st = store.state(rec.id)
    if not st.running or not st.pid:
        raise StateConflict("top can only be used on running containers: container state improper")
    descs = [d for arg in descriptors for d in arg.replace(",", " ").split()] or TOP_DEFAULT
    for d in descs:
        if d not in TOP_HEADERS:
            raise UsageError(f"unknown descriptor: {d}: use one of {', '.join(sorted(TOP_HEADERS))}")
    init = st.pid
    root = f"/proc/{init}/root"
    users, groups = _names(f"{root}/etc/passwd"), _names(f"{root}/etc/group")
    uidmap, gidmap = _id_map(f"/proc/{init}/uid_map"), _id_map(f"/proc/{init}/gid_map")
    from rpod.container.stats import process_tree

    pids = sorted(process_tree(init))
    nspid: dict[int, int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                line = next((ln for ln in f if ln.startswith("NSpid:")), "")
            nspid[pid] = int(line.split()[-1]) if line else pid
        except (OSError, ValueError):
            continue
    rows = [[TOP_HEADERS[d] for d in descs]]
    for pid in pids:
        try:
            row = _proc_row(pid, uidmap, gidmap, users, groups, nspid)
        except (OSError, KeyError, IndexError, ValueError):
            continue  # it exited while we looked
        rows.append([row[d] for d in descs])
    return rows
