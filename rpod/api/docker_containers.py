"""Docker Engine API: ``/containers/...``."""

from __future__ import annotations

import threading
import time
from typing import Any

from rpod.api import convert
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng

# attach requests that arrived before the container started (``docker run`` attaches first)
_waiting: dict[str, list[_Waiter]] = {}
_waiting_lock = threading.Lock()


class _Waiter:
    def __init__(self, stdin: bool):
        self.stdin = stdin
        self.event = threading.Event()
        self.io: Any = None
        self.error: str | None = None


# ------------------------------------------------------------------------------------------ list
@route("GET", "/containers/json")
def list_containers(req: Request, conn: Connection) -> Any:
    all_ = req.qbool("all")
    limit = req.qint("limit", -1) or -1
    filters = convert.filters(req)
    out = []
    for rec, st in eng.containers():
        if not all_ and not st.running and limit < 0 and not filters:
            continue
        if not convert.container_matches(rec, st, filters):
            continue
        out.append(convert.container_summary(rec, st, req.qbool("size")))
    return out[:limit] if limit > 0 else out


@route("POST", "/containers/create")
def create(req: Request, conn: Connection) -> Any:
    body = req.json({})
    if not isinstance(body, dict):
        raise HTTPError(400, "decode container create options: expected a JSON object")
    fields = convert.run_options(body, req.q("name"))
    rec = eng.create(fields)
    if body.get("AttachStdout") or body.get("AttachStderr"):  # docker run: attach and start follow
        # before the answer: the start that follows must find it (one monitor per container)
        eng.prespawn(rec.id, stdin=bool(body.get("AttachStdin") and body.get("OpenStdin")))
    conn.respond_json(201, {"Id": rec.id, "Warnings": list(rec.warnings or [])})


@route("GET", "/containers/{ref}/json")
def inspect(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    return convert.container_inspect(rec, eng.container_state(rec.id), req.qbool("size"))


# ------------------------------------------------------------------------------------- lifecycle
@route("POST", "/containers/{ref}/start")
def start(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    st = eng.container_state(rec.id)
    if st.running:
        conn.respond_empty(304)
        return None
    with _waiting_lock:
        waiters = _waiting.pop(rec.id, [])
    if not waiters:
        eng.start(rec.id)
        return None
    try:
        io = eng.start(rec.id, attach=True, stdin=any(w.stdin for w in waiters))
    except Exception as e:
        for w in waiters:
            w.error = str(e)
            w.event.set()
        raise
    waiters[0].io = io
    for w in waiters:
        w.event.set()
    return None


@route("POST", "/containers/{ref}/stop")
def stop(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    if not eng.container_state(rec.id).running:
        conn.respond_empty(304)
        return None
    eng.stop(rec.id, req.qint("t", req.qint("timeout")))
    return None


@route("POST", "/containers/{ref}/restart")
def restart(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    if eng.container_state(rec.id).running:
        eng.stop(rec.id, req.qint("t", req.qint("timeout")))
    eng.start(rec.id)
    return None


@route("POST", "/containers/{ref}/kill")
def kill(req: Request, conn: Connection, ref: str) -> Any:
    eng.kill(ref, req.q("signal") or "SIGKILL")
    return None


@route("POST", "/containers/{ref}/wait")
def wait(req: Request, conn: Connection, ref: str) -> Any:
    condition = req.q("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise HTTPError(400, f"invalid condition: {condition!r}")
    rec = eng.container(ref)
    # answer the headers now: the client (docker run) starts the container only after that
    conn.start_stream(200, "application/json")
    code, error = eng.wait(rec.id, condition, conn.client_gone)
    conn.write_json({"StatusCode": code, "Error": {"Message": error} if error else None})
    conn.end()
    return None


@route("POST", "/containers/{ref}/rename")
def rename(req: Request, conn: Connection, ref: str) -> Any:
    name = req.q("name")
    if not name:
        raise HTTPError(400, "a new name is required")
    eng.rename(ref, name.lstrip("/"))
    return None


@route("POST", "/containers/{ref}/pause")
def pause(req: Request, conn: Connection, ref: str) -> Any:
    eng.pause(ref)


@route("POST", "/containers/{ref}/unpause")
def unpause(req: Request, conn: Connection, ref: str) -> Any:
    eng.unpause(ref)


@route("DELETE", "/containers/{ref}")
def remove(req: Request, conn: Connection, ref: str) -> Any:
    eng.remove(ref, req.qbool("force"), req.qbool("v"))
    return None


@route("POST", "/containers/prune")
def prune(req: Request, conn: Connection) -> Any:
    from rpod.api.convert import filters

    done = eng.prune_containers(filters(req))
    return {"ContainersDeleted": [i for i, _ in done] or None, "SpaceReclaimed": sum(n for _, n in done)}


@route("GET", "/containers/{ref}/top")
def top(req: Request, conn: Connection, ref: str) -> Any:
    args = (req.q("ps_args") or "").split()
    titles, rows = eng.top(ref, args)
    return {"Titles": titles, "Processes": rows}


@route("POST", "/containers/{ref}/resize")
def resize(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    eng.resize(rec.id, req.qint("h", 24) or 24, req.qint("w", 80) or 80)
    conn.respond_json(200, {})


# ------------------------------------------------------------------------------------------ logs
@route("GET", "/containers/{ref}/logs")
def logs(req: Request, conn: Connection, ref: str) -> Any:
    from rpod.api.streams import encode

    rec = eng.container(ref)
    want = {"stdout": req.qbool("stdout"), "stderr": req.qbool("stderr")}
    if not any(want.values()):
        raise HTTPError(400, "you must choose at least one stream")
    tty = bool(rec.options.tty)
    since = _time(req.q("since"))
    until = _time(req.q("until"))
    stamps = req.qbool("timestamps")
    tail = req.q("tail") or "all"
    reader = eng.log_reader(rec.id)
    records = reader.read()
    records = [r for r in records if _in_window(r[0], since, until)]
    if tail != "all":
        n = int(tail) if tail.lstrip("-").isdigit() else -1
        records = records[-n:] if n > 0 else ([] if n == 0 else records)
    conn.start_stream(200, "application/vnd.docker.raw-stream" if tty else
                      "application/vnd.docker.multiplexed-stream")

    def emit(recs: list[tuple[str, str, bytes]]) -> None:
        for ts, stream, text in recs:
            if want.get(stream):
                conn.write(encode(stream, (ts.encode() + b" " if stamps else b"") + text, tty))

    try:
        emit(records)
        while req.qbool("follow"):
            done = eng.log_follow_done(rec.id)
            emit([r for r in reader.read() if _in_window(r[0], None, until)])
            if done or (until is not None and time.time() >= until) or conn.client_gone():
                break
            time.sleep(0.1)
    finally:
        reader.close()
    conn.end()


def _time(value: str | None) -> float | None:
    if not value or value == "0":
        return None
    try:
        return float(value)
    except ValueError:
        return eng.parse_time(value)


def _in_window(ts: str, since: float | None, until: float | None) -> bool:
    if since is None and until is None:
        return True
    t = eng.parse_time(ts)
    return (since is None or t >= since) and (until is None or t <= until)


# ---------------------------------------------------------------------------------------- attach
@route("POST", "/containers/{ref}/attach")
def attach(req: Request, conn: Connection, ref: str) -> Any:
    from rpod.api import streams

    rec = eng.container(ref)
    tty = bool(rec.options.tty)
    with_stdin = req.qbool("stdin")
    want_out, want_err = req.qbool("stdout"), req.qbool("stderr")
    st = eng.container_state(rec.id)
    ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    if not st.running:
        waiter = _Waiter(with_stdin)
        with _waiting_lock:
            _waiting.setdefault(rec.id, []).append(waiter)
        client = conn.hijack(req, ctype)
        while not waiter.event.wait(1):  # until the container starts, or the client goes away
            if conn.client_gone():
                with _waiting_lock:
                    if waiter in _waiting.get(rec.id, []):
                        _waiting[rec.id].remove(waiter)
                return None
        if waiter.error or waiter.io is None:
            streams.end(client)
            return None
        io = waiter.io
        outputs = {}
        for fd, name, want in ((io.stdout, streams.STDOUT, want_out), (io.stderr, streams.STDERR, want_err)):
            if fd >= 0:
                outputs[fd] = name if want else -1
        streams.pump(client, {fd: n for fd, n in outputs.items()}, tty, io.stdin if with_stdin else -1)
        streams.end(client)
        return None
    client = conn.hijack(req, ctype)
    _attach_running(client, rec.id, tty, with_stdin, {"stdout": want_out, "stderr": want_err})
    return None


def _attach_running(client: Any, cid: str, tty: bool, with_stdin: bool, want: dict[str, bool]) -> None:
    """Through the monitor's attach socket: its packets to frames, the client's bytes to stdin."""
    import selectors

    from rpod.api import streams

    tags = eng.attach_tags()
    sock = eng.attach_socket(cid)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "ctr")
    if with_stdin:
        if client.leftover:
            sock.send(tags["stdin"] + client.leftover)
            client.leftover = b""
        sel.register(client.sock, selectors.EVENT_READ, "client")
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "ctr":
                    pkt = sock.recv(65536)
                    if not pkt:
                        return
                    stream = "stderr" if pkt[:1] == tags["stderr"] else "stdout"
                    if want.get(stream):
                        client.send(streams.encode(stream, pkt[1:], tty))
                else:
                    data = client.sock.recv(16384)
                    if not data:
                        sel.unregister(client.sock)
                        sock.send(tags["eof"])
                        continue
                    sock.send(tags["stdin"] + data)
    finally:
        sel.close()
        sock.close()
        streams.end(client)


# --------------------------------------------------------------------------------------- archive
@route("GET", "/containers/{ref}/archive")
def get_archive(req: Request, conn: Connection, ref: str) -> Any:
    """A tar of ``path`` (``X-Docker-Container-Path-Stat``: its stat, base64 JSON)."""
    import base64
    import json

    path = req.q("path")
    if not path:
        raise HTTPError(400, "path is required")
    stat, chunks = eng.archive_get(ref, path)
    header = ("X-Docker-Container-Path-Stat", base64.b64encode(json.dumps(stat).encode()).decode())
    if req.method == "HEAD":
        conn.respond(200, b"", "application/x-tar", [header])
        chunks.close()  # type: ignore[attr-defined]
        return None
    conn.start_stream(200, "application/x-tar", [header])
    for chunk in chunks:
        conn.write(chunk)
    conn.end()
    return None


@route("PUT", "/containers/{ref}/archive")
def put_archive(req: Request, conn: Connection, ref: str) -> Any:
    path = req.q("path")
    if not path:
        raise HTTPError(400, "path is required")
    eng.archive_put(ref, path, req.body_chunks())
    conn.respond_empty(200)


@route("GET", "/containers/{ref}/export")
def export(req: Request, conn: Connection, ref: str) -> Any:
    """``docker export`` / ``podman --remote export``: the container's files as a tar stream."""
    from rpod.engine import containers_files

    rec = eng.container(ref)
    conn.start_stream(200, "application/x-tar")

    class _Out:
        def write(self, data: bytes) -> int:
            conn.write(bytes(data))
            return len(data)

        def flush(self) -> None:
            pass

    containers_files.export(rec.id, _Out(), eng.store())  # type: ignore[arg-type]
    conn.end()
    return None
