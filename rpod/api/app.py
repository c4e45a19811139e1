"""Routing: versioned and unversioned paths to handlers, errors to the APIs' status codes.

``/v1.41/containers/json`` and ``/containers/json`` are the Docker API; ``/v4.3.1/libpod/...``
(any version) is the Libpod API.  A handler is ``fn(req, conn, **path_params)``; it answers with
``conn.respond_json`` / ``start_stream`` / ``hijack``, or returns an object sent as JSON 200.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

import h11

from rpod.api.errors import status_for
from rpod.api.http import IO_TIMEOUT, KEEPALIVE_TIMEOUT, Connection, HTTPError, Request
from rpod.api.routes import _ROUTES, _VERSION
from rpod.engine import api_support as eng


def _load_handlers() -> None:
    from rpod.api import (  # noqa: F401
        docker_containers,
        docker_exec,
        docker_images,
        docker_netvol,
        docker_other,
        docker_ship,
        libpod,
        libpod_netvol,
        libpod_pods,
        libpod_system,
        stats_search,
    )


def find(method: str, path: str) -> tuple[Callable[..., Any], dict[str, str]]:
    path = _VERSION.sub("", path)
    api = "docker"
    if path.startswith("/libpod/"):
        api, path = "libpod", path[len("/libpod"):]
    allowed = False
    for table in ([api, "docker"] if api == "libpod" else [api]):
        for m, rx, fn in _ROUTES[table]:
            match = rx.match(path)
            if match:
                if m == method or (m == "GET" and method == "HEAD"):
                    return fn, match.groupdict()
                allowed = True
    if allowed:
        raise HTTPError(405, "method not allowed")
    raise HTTPError(404, f"page not found: {path}")


def handle_connection(sock: socket.socket, activity: Any) -> None:
    """Serve requests on one connection until the client closes it (or it is hijacked)."""
    _load_handlers()
    conn = Connection(sock)
    while True:
        sock.settimeout(KEEPALIVE_TIMEOUT)
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:  # malformed, or a head over MAX_HEAD: say so, then close
            with contextlib.suppress(Exception):
                conn.respond_json(e.error_status_hint, {"message": str(e), "response": e.error_status_hint})
            return
        except (OSError, TimeoutError):
            return
        if isinstance(ev, h11.ConnectionClosed) or not isinstance(ev, h11.Request):
            return
        sock.settimeout(IO_TIMEOUT)
        with activity:
            req = Request(conn, ev)
            eng.debug(f"api: {req.method} {ev.target.decode('latin-1')}")
            _dispatch(conn, req)
        if conn.hijacked or conn.h11.our_state is not h11.DONE:
            return
        try:
            req.drain()
            conn.h11.start_next_cycle()
        except (h11.LocalProtocolError, h11.RemoteProtocolError, OSError, HTTPError):
            return


def _dispatch(conn: Connection, req: Request) -> None:
    try:
        fn, params = find(req.method, req.path)
        result = fn(req, conn, **params)
        if not conn.responded:
            if result is None:
                conn.respond_empty(204)
            else:
                conn.respond_json(200, result)
    except HTTPError as e:
        _error(conn, e.status, e.message)
    except (BrokenPipeError, ConnectionResetError, TimeoutError, h11.RemoteProtocolError):
        conn.hijacked = True  # the client went away (or stopped reading): drop the connection
    except Exception as e:
        status = status_for(e)
        if status == 500:
            _log_exception(req)
        _error(conn, status, str(e) or type(e).__name__)


def _log_exception(req: Request) -> None:
    """An unexpected failure: its traceback on the service's stderr (the journal under systemd)."""
    import sys
    import traceback

    sys.stderr.write(f"ERRO {req.method} {req.path}: {traceback.format_exc()}")
    sys.stderr.flush()


def _error(conn: Connection, status: int, message: str) -> None:
    if conn.hijacked:
        return
    if conn.streaming:  # too late for a status: end the stream with the error in it
        try:
            conn.write_json({"message": message, "error": message})
            conn.end()
        except Exception:
            conn.hijacked = True
        return
    if conn.responded:
        return
    try:
        conn.respond_json(status, {"cause": message.rsplit(": ", 1)[-1], "message": message,
                                   "response": status})
    except Exception:
        conn.hijacked = True
