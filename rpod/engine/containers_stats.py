"""``stats``: containers' resource usage (``rpod.container.stats`` reads ``/proc``; rootless rpod
has no cgroup of its own).  ``sample`` reads the named (or all running) containers once;
``stats_row`` makes Podman's ``ContainerStats`` report of a reading and the one before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rpod.container.stats import Sample, cpu_percent
from rpod.engine import containers

if TYPE_CHECKING:
    from rpod.paths import Paths

__all__ = ["Reading", "Sample", "sample", "stats_row"]


@dataclass
class Reading:
    """One container's reading (``sample`` is None when it is not running)."""

    id: str
    name: str
    sample: Sample | None


def sample(refs: list[str], *, all_: bool = False, paths: Paths | None = None) -> list[Reading]:
    """Read ``refs`` (every running container when empty; every container with ``all_``)."""
    from rpod.container.stats import sample as read_proc

    store = containers.container_store(paths)
    if refs:
        recs = [store.get(r) for r in refs]  # NoSuchContainer for an unknown one
    else:
        recs = [rec for rec, st in store.iter_states() if all_ or st.running]
    out = []
    for rec in recs:
        st = store.state(rec.id)
        out.append(Reading(rec.id, rec.name, read_proc(st.pid) if st.running and st.pid else None))
    return out


def stats_row(r: Reading, prev: Sample | None = None) -> dict[str, Any]:
    """Podman's ``ContainerStats`` (``podman stats --format json`` fields, the Libpod API's report)."""
    s = r.sample or Sample(taken=0.0)
    net_in = sum(n["rx_bytes"] for n in s.networks.values())
    net_out = sum(n["tx_bytes"] for n in s.networks.values())
    cpu = cpu_percent(s, prev) if r.sample else 0.0
    return {"AvgCPU": cpu_percent(s, None) if r.sample else 0.0, "ContainerID": r.id, "Name": r.name,
            "PerCPU": None, "CPU": cpu, "CPUNano": s.cpu_ns, "CPUSystemNano": s.system_ns,
            "SystemNano": int(s.taken * 1e9), "MemUsage": s.mem_usage, "MemLimit": s.mem_limit,
            "MemPerc": s.mem_usage / s.mem_limit * 100 if s.mem_limit else 0.0, "NetInput": net_in,
            "NetOutput": net_out, "BlockInput": s.block_read, "BlockOutput": s.block_write, "PIDs": s.pids,
            "UpTime": s.uptime_ns, "Duration": s.uptime_ns}


def pod_stats(refs: list[str], paths: Paths | None = None) -> list[dict[str, Any]]:
    """``pod stats`` rows (Podman's strings): one per running container of ``refs`` (every pod when empty)."""
    from rpod.engine import pods
    from rpod.humanize import human_size

    refs = refs or [row.ID for row in pods.ps(paths, {}, no_trunc=True)]
    out = []
    for ref in refs:
        doc = pods.inspect(paths, ref)  # NoSuchPod for an unknown one
        running = [c["Id"] for c in doc["Containers"] if c["State"] == "running"]
        for r in sample(running, paths=paths) if running else []:
            row = stats_row(r)
            out.append({"CPU": f"{row['CPU']:.2f}%", "MemUsage": f"{human_size(row['MemUsage'])} / "
                        f"{human_size(row['MemLimit'])}", "MemUsageBytes": f"{row['MemUsage']}B / {row['MemLimit']}B",
                        "Mem": f"{row['MemPerc']:.2f}%", "NetIO": f"{human_size(row['NetInput'])} / "
                        f"{human_size(row['NetOutput'])}", "BlockIO": f"{human_size(row['BlockInput'])} / "
                        f"{human_size(row['BlockOutput'])}", "PIDS": str(row["PIDs"]), "Pod": doc["Id"][:12],
                        "CID": r.id[:12], "Name": r.name})
    return out


def cpu_time(ns: int) -> str:
    """Go's duration (``729.999999ms``), as Podman's CPU TIME column."""
    from rpod.duration import format_ns

    return format_ns(ns)
