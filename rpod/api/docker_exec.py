"""Docker Engine API: exec sessions (``/containers/{id}/exec``, ``/exec/{id}/start|json|resize``).

A session lives in this process (Podman keeps them in its database; they do not outlive the
service either way).  Starting one runs the engine's exec and pumps its output to the client:
multiplexed frames without a terminal, raw bytes with one, the hijacked socket's input to stdin.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng

_sessions: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()
MAX_SESSIONS = 1024


@route("POST", "/containers/{ref}/exec")
def create(req: Request, conn: Connection, ref: str) -> Any:
    body = req.json({})
    if not isinstance(body, dict):
        raise HTTPError(400, "decode exec options: expected a JSON object")
    rec = eng.container(ref)
    if not eng.container_state(rec.id).running:
        raise HTTPError(409, f"container {rec.id} is not running")
    cmd = body.get("Cmd")
    if not cmd or not isinstance(cmd, list):
        raise HTTPError(400, "No exec command specified")
    sid = os.urandom(32).hex()
    with _lock:
        if len(_sessions) >= MAX_SESSIONS:  # forget finished sessions first, oldest first
            for k in [k for k, s in _sessions.items() if not s["Running"]][:MAX_SESSIONS // 2]:
                _sessions.pop(k)
        _sessions[sid] = {
            "ID": sid, "ContainerID": rec.id, "Running": False, "ExitCode": None, "Pid": 0,
            "OpenStdin": bool(body.get("AttachStdin")), "OpenStdout": bool(body.get("AttachStdout", True)),
            "OpenStderr": bool(body.get("AttachStderr", True)), "CanRemove": False, "DetachKeys": "",
            "ProcessConfig": {"tty": bool(body.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                              "privileged": bool(body.get("Privileged")), "user": body.get("User") or ""},
            "_env": list(body.get("Env") or []), "_workdir": body.get("WorkingDir") or None, "_proc": None,
        }
    conn.respond_json(201, {"Id": sid})


def _session(sid: str) -> dict[str, Any]:
    with _lock:
        s = _sessions.get(sid)
    if s is None:
        raise HTTPError(404, f"no such exec session: {sid}")
    return s


@route("GET", "/exec/{sid}/json")
def inspect(req: Request, conn: Connection, sid: str) -> Any:
    s = _session(sid)
    return {k: v for k, v in s.items() if not k.startswith("_")}


@route("POST", "/exec/{sid}/resize")
def resize(req: Request, conn: Connection, sid: str) -> Any:
    s = _session(sid)
    proc = s.get("_proc")
    if proc is not None and getattr(proc, "master", None) is not None:
        import fcntl
        import struct
        import termios

        with contextlib.suppress(OSError):
            fcntl.ioctl(proc.master, termios.TIOCSWINSZ,
                        struct.pack("HHHH", req.qint("h", 24) or 24, req.qint("w", 80) or 80, 0, 0))
        import signal  # the pty is not the exec's controlling terminal: tell it the size changed

        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGWINCH)
    conn.respond_json(201, {}) if req.path.startswith("/libpod") else conn.respond_empty(200)


@route("POST", "/exec/{sid}/start")
def start(req: Request, conn: Connection, sid: str) -> Any:
    from rpod.api import streams

    s = _session(sid)
    body = req.json({}) or {}
    detach = bool(body.get("Detach"))
    tty = bool(body.get("Tty", s["ProcessConfig"]["tty"]))
    if s["Running"] or s["ExitCode"] is not None:
        raise HTTPError(409, "exec session is already running or has run")
    pc = s["ProcessConfig"]
    proc = eng.exec_popen(s["ContainerID"], [pc["entrypoint"], *pc["arguments"]], tty=tty,
                          stdin=s["OpenStdin"] and not detach, env=s["_env"], user=pc["user"] or None,
                          workdir=s["_workdir"], detach=detach)
    s.update(Running=True, Pid=proc.pid, _proc=proc)
    if detach:
        s.update(Running=False, ExitCode=proc.wait())
        conn.respond_empty(200)
        return None
    ctype = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    client = conn.hijack(req, ctype)
    try:
        if tty:
            master = proc.master  # type: ignore[attr-defined]
            stdin_fd = os.dup(master) if s["OpenStdin"] else -1
            streams.pump(client, {os.dup(master): streams.STDOUT}, True, stdin_fd)
        else:
            outputs = {os.dup(proc.stdout.fileno()): streams.STDOUT if s["OpenStdout"] else -1,
                       os.dup(proc.stderr.fileno()): streams.STDERR if s["OpenStderr"] else -1}
            proc.stdout.close()
            proc.stderr.close()
            stdin_fd = -1
            if proc.stdin:
                stdin_fd = os.dup(proc.stdin.fileno())
                proc.stdin.close()
            streams.pump(client, outputs, False, stdin_fd)
    finally:
        code = proc.wait()
        if getattr(proc, "master", None) is not None:
            with contextlib.suppress(OSError):
                os.close(proc.master)
            proc.master = None  # type: ignore[attr-defined]
        s.update(Running=False, ExitCode=code)
        streams.end(client)
    return None
