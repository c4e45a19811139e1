"""Container stats (Docker ``/containers/{id}/stats``, Libpod ``/libpod/containers/stats`` and
``/libpod/pods/stats``) and registry search (``/images/search``, both APIs): the engine's
``containers_stats`` readings (``/proc``, no cgroup rootless) and ``image_ship.search``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import containers_stats as es

L = "libpod"
INTERVAL = 1.0  # Docker streams a reading a second


def _iso(t: float) -> str:
    if not t:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cpu_stats(s: es.Sample | None) -> dict[str, Any]:
    import os

    s = s or es.Sample(taken=0.0)
    return {"cpu_usage": {"total_usage": s.cpu_ns, "usage_in_kernelmode": s.system_ns,
                          "usage_in_usermode": s.user_ns},
            "system_cpu_usage": s.host_cpu_ns, "online_cpus": os.cpu_count() or 1,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def docker_stats(r: es.Reading, prev: es.Sample | None) -> dict[str, Any]:
    """Docker's ``StatsJSON`` from a reading and the one before it (zeros when none)."""
    s = r.sample or es.Sample(taken=0.0)
    blk = [{"major": 0, "minor": 0, "op": "read", "value": s.block_read},
           {"major": 0, "minor": 0, "op": "write", "value": s.block_write}] if r.sample else None
    return {"name": "/" + r.name, "id": r.id, "read": _iso(s.taken), "preread": _iso(prev.taken if prev else 0),
            "pids_stats": {"current": s.pids} if r.sample else {},
            "blkio_stats": {"io_service_bytes_recursive": blk, "io_serviced_recursive": None,
                            "io_queue_recursive": None, "io_service_time_recursive": None,
                            "io_wait_time_recursive": None, "io_merged_recursive": None,
                            "io_time_recursive": None, "sectors_recursive": None},
            "num_procs": 0, "storage_stats": {}, "cpu_stats": _cpu_stats(r.sample), "precpu_stats": _cpu_stats(prev),
            "memory_stats": {"usage": s.mem_usage, "limit": s.mem_limit, "stats": {}} if r.sample else {},
            "networks": s.networks or None}


@route("GET", "/containers/{ref}/stats")
def container_stats(req: Request, conn: Connection, ref: str) -> Any:
    """``stream=true`` (the default): a reading a second until the container stops or the client
    goes; ``stream=false``: one reading, with a first one ``INTERVAL`` before it for the CPU
    delta unless ``one-shot``."""
    rec = eng.container(ref)
    stream = req.qbool("stream", True)
    prev = None
    if not stream and not req.qbool("one-shot"):
        prev = es.sample([rec.id], paths=eng.store())[0].sample
        if prev is not None:
            time.sleep(INTERVAL)
    reading = es.sample([rec.id], paths=eng.store())[0]
    if not stream:
        return docker_stats(reading, prev)
    conn.start_stream(200, "application/json")
    while True:
        conn.write_json(docker_stats(reading, prev))
        if reading.sample is None:
            break
        deadline = time.monotonic() + INTERVAL
        while time.monotonic() < deadline:
            if conn.client_gone():
                conn.hijacked = True  # nobody to end the stream for
                return None
            time.sleep(0.1)
        prev, reading = reading.sample, es.sample([rec.id], paths=eng.store())[0]
    conn.end()
    return None


@route("GET", "/containers/stats", L)
def libpod_stats(req: Request, conn: Connection) -> Any:
    """Podman's ``{"Error": ..., "Stats": [ContainerStats...]}``, once or every ``interval`` seconds."""
    refs = [r for v in req.qlist("containers") for r in v.split(",") if r]
    stream = req.qbool("stream", True)
    interval = max(req.qint("interval", 5) or 5, 1)
    readings = es.sample(refs, paths=eng.store())
    for r in readings:
        if r.sample is None:
            raise HTTPError(409, f"container {r.id} is not running: container state improper")
    if not stream:
        return {"Error": None, "Stats": [es.stats_row(r) for r in readings]}
    conn.start_stream(200, "application/json")
    prev: dict[str, es.Sample] = {}
    while True:
        conn.write_json({"Error": None, "Stats": [es.stats_row(r, prev.get(r.id)) for r in readings]})
        prev = {r.id: r.sample for r in readings if r.sample}
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if conn.client_gone():
                conn.hijacked = True
                return None
            time.sleep(0.1)
        readings = [r for r in es.sample(refs or list(prev), paths=eng.store()) if r.sample]
        if not readings:
            break
    conn.end()
    return None


@route("GET", "/pods/stats", L)
def pod_stats(req: Request, conn: Connection) -> Any:
    """Podman's pod stats rows: one per running container of the named (or every) pod."""
    names = [n for v in req.qlist("namesOrIDs") for n in v.split(",") if n]
    return es.pod_stats([] if req.qbool("all") else names, eng.store())


# ------------------------------------------------------------------------------------------- search
def _search(req: Request) -> list[Any]:
    from rpod.engine.image_ship import search, search_options

    term = req.q("term")
    if not term:
        raise HTTPError(400, "term is required")
    tls = req.q("tlsVerify")
    opts = search_options(limit=req.qint("limit", 0) or 0, filters=filters(req), list_tags=req.qbool("listTags"),
                          tls_verify=None if tls is None else req.qbool("tlsVerify"))
    return search(term, opts)


@route("GET", "/images/search")
def docker_search(req: Request, conn: Connection) -> Any:
    return [{"name": r.Name, "description": r.Description, "star_count": r.Stars, "is_official": bool(r.Official),
             "is_automated": bool(r.Automated)} for r in _search(req)]


@route("GET", "/images/search", L)
def libpod_search(req: Request, conn: Connection) -> Any:
    return [{"Index": r.Index, "Name": r.Name, "Description": r.Description, "Stars": r.Stars,
             "Official": r.Official, "Automated": r.Automated, "Tag": r.Tag} for r in _search(req)]
