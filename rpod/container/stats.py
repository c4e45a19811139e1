"""Resource usage of a running container read from ``/proc`` (rootless rpod has no cgroup of its
own to read: what the kernel reports per process is summed over the container's process tree).

CPU is user+system time, memory the resident set, block I/O ``/proc/PID/io`` (processes the user
may not read count 0), network the container's namespace's ``/proc/PID/net/dev`` (loopback
excluded), the limit the host's memory (no cgroup limit applies)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field


@dataclass
class Sample:
    """One reading; nanosecond counters, byte sizes."""

    taken: float  # time.time()
    cpu_ns: int = 0
    user_ns: int = 0
    system_ns: int = 0
    host_cpu_ns: int = 0  # every CPU's busy+idle time since boot (Docker's system_cpu_usage)
    mem_usage: int = 0
    mem_limit: int = 0
    pids: int = 0
    block_read: int = 0
    block_write: int = 0
    networks: dict[str, dict[str, int]] = field(default_factory=dict)
    uptime_ns: int = 0  # since the container's first process started


def process_tree(init_pid: int) -> list[int]:
    """``init_pid`` and its descendants (by the ppid field of ``/proc/*/stat``)."""
    parent: dict[int, int] = {}
    for e in os.scandir("/proc"):
        if e.name.isdigit():
            try:
                with open(f"/proc/{e.name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            parent[int(e.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    tree, frontier = [init_pid], [init_pid]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier]
        tree += frontier
    return tree


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _host() -> tuple[int, int, float]:
    """(every CPU's time since boot in ns, MemTotal in bytes, uptime in seconds)."""
    tck = os.sysconf("SC_CLK_TCK")
    first = _read("/proc/stat").split("\n", 1)[0].split()[1:]
    host_ns = sum(int(x) for x in first[:8]) * 1_000_000_000 // tck
    mem = 0
    for ln in _read("/proc/meminfo").splitlines():
        if ln.startswith("MemTotal:"):
            mem = int(ln.split()[1]) * 1024
    return host_ns, mem, float(_read("/proc/uptime").split()[0] or 0)


def _networks(pid: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for ln in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, rest = ln.partition(":")
        name, v = name.strip(), [int(x) for x in rest.split()]
        if name and name != "lo" and len(v) >= 12:
            out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                         "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}
    return out


def sample(init_pid: int) -> Sample:
    """Read the process tree of ``init_pid`` now."""
    tck = os.sysconf("SC_CLK_TCK")
    host_ns, mem_total, uptime = _host()
    s = Sample(taken=time.time(), host_cpu_ns=host_ns, mem_limit=mem_total)
    for pid in process_tree(init_pid):
        stat = _read(f"/proc/{pid}/stat")
        if not stat:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        s.pids += 1
        s.user_ns += int(fields[11]) * 1_000_000_000 // tck
        s.system_ns += int(fields[12]) * 1_000_000_000 // tck
        s.mem_usage += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        if pid == init_pid:
            s.uptime_ns = max(int((uptime - int(fields[19]) / tck) * 1e9), 0)
        for ln in _read(f"/proc/{pid}/io").splitlines():
            k, _, v = ln.partition(":")
            with contextlib.suppress(ValueError):
                if k == "read_bytes":
                    s.block_read += int(v)
                elif k == "write_bytes":
                    s.block_write += int(v)
    s.cpu_ns = s.user_ns + s.system_ns
    s.networks = _networks(init_pid)
    return s


def cpu_percent(cur: Sample, prev: Sample | None) -> float:
    """CPU use in percent of one CPU: over the interval since ``prev``, else since the start."""
    if prev is not None and cur.taken > prev.taken:
        return max(cur.cpu_ns - prev.cpu_ns, 0) / ((cur.taken - prev.taken) * 1e9) * 100
    return cur.cpu_ns / cur.uptime_ns * 100 if cur.uptime_ns else 0.0
