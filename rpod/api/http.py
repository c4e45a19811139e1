"""One HTTP/1.1 connection served with h11 (sans-IO): requests in, JSON or streamed responses out,
and the hijack (``Upgrade: tcp``) that attach and exec use to own the raw socket.

Bounded everywhere: h11 refuses request heads over ``MAX_HEAD`` bytes, bodies over ``MAX_BODY``
are refused unless a handler streams them (``Request.body_chunks``), and every socket operation
has a timeout, so a slow or broken client only ever holds its own thread.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024  # JSON bodies; archives and image tarballs are streamed
READ_SIZE = 65536
KEEPALIVE_TIMEOUT = 120.0  # an idle keep-alive connection is closed after this long
IO_TIMEOUT = 300.0  # one blocked send/recv inside a request (a client that stopped reading)


class HTTPError(Exception):
    """An error the API reports as ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Hijacked:
    """The raw connection after an upgrade: bytes the client sent past the request come first."""

    def __init__(self, sock: socket.socket, leftover: bytes):
        self.sock = sock
        self.leftover = leftover

    def recv(self, n: int = READ_SIZE) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover[:n], self.leftover[n:]
            return data
        return self.sock.recv(n)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class Request:
    """One request: method, path (without the query), query, lower-case headers, body access."""

    def __init__(self, conn: Connection, ev: h11.Request):
        self.conn = conn
        self.method = conn.method = ev.method.decode()
        conn.responded = conn.streaming = False
        target = ev.target.decode("latin-1")
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = {k.decode().lower(): v.decode("latin-1") for k, v in ev.headers}
        self.params: dict[str, str] = {}
        self._body: bytes | None = None
        self._body_done = False

    # ---- query ----------------------------------------------------------------------------------
    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[-1] if v else default

    def qlist(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def qbool(self, name: str, default: bool = False) -> bool:
        v = self.q(name)
        if v is None:
            return default
        v = v.lower()
        if v in ("1", "true", "yes", "t", ""):
            return True
        if v in ("0", "false", "no", "f"):
            return False
        raise HTTPError(400, f"failed to parse parameters for {self.path}: {name}: invalid boolean {v!r}")

    def qint(self, name: str, default: int | None = None) -> int | None:
        v = self.q(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise HTTPError(400, f"failed to parse parameters for {self.path}: {name}: invalid integer {v!r}") \
                from None

    def qjson(self, name: str, default: Any = None) -> Any:
        v = self.q(name)
        if not v:
            return default
        try:
            return json.loads(v)
        except ValueError:
            raise HTTPError(400, f"failed to parse parameters for {self.path}: {name}: invalid JSON") from None

    # ---- body -----------------------------------------------------------------------------------
    def body_chunks(self) -> Iterator[bytes]:
        """The body as it arrives (for archives and tarballs: any size)."""
        if self._body_done:
            if self._body:
                yield self._body
            return
        self._body_done = True
        while True:
            ev = self.conn.next_event()
            if isinstance(ev, h11.Data):
                yield bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                return
            else:
                raise HTTPError(400, "unexpected end of the request body")

    def body(self) -> bytes:
        if self._body is None:
            buf = bytearray()
            for chunk in self.body_chunks():
                buf += chunk
                if len(buf) > MAX_BODY:
                    raise HTTPError(413, "request body too large")
            self._body = bytes(buf)
        return self._body

    def json(self, default: Any = None) -> Any:
        data = self.body()
        if not data.strip():
            return default
        try:
            return json.loads(data)
        except ValueError as e:
            raise HTTPError(400, f"decode: invalid JSON body: {e}") from None

    def drain(self) -> None:
        if not self._body_done:
            for _ in self.body_chunks():
                pass


class Connection:
    """The server side of one client connection."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.method = "GET"
        self.responded = False
        self.streaming = False
        self.hijacked = False

    def next_event(self) -> Any:
        while True:
            ev = self.h11.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            data = self.sock.recv(READ_SIZE)
            self.h11.receive_data(data)

    def _send(self, ev: Any) -> None:
        data = self.h11.send(ev)
        if data:
            self.sock.sendall(data)

    def client_gone(self) -> bool:
        """True when the client closed its end (checked while a long stream has nothing to send)."""
        import select

        try:
            if self.sock.family == socket.AF_UNIX:
                # a client that only shut down its sending side (the docker CLI does, attaching
                # without stdin) is still reading: on a unix socket only a full close sets POLLHUP
                poller = select.poll()
                poller.register(self.sock, select.POLLHUP | select.POLLERR)
                return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0))
            r, _, _ = select.select([self.sock], [], [], 0)
            return bool(r) and self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    # ---- responses ------------------------------------------------------------------------------
    def respond(self, status: int, body: bytes, content_type: str = "application/json",
                headers: list[tuple[str, str]] | None = None) -> None:
        hdrs = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + _server_headers()
        hdrs += headers or []
        self._send(h11.Response(status_code=status, headers=hdrs))
        if body and self.method != "HEAD":
            self._send(h11.Data(data=body))
        self._send(h11.EndOfMessage())
        self.responded = True

    def respond_json(self, status: int, obj: Any) -> None:
        self.respond(status, json.dumps(obj).encode() + b"\n")

    def respond_empty(self, status: int = 204) -> None:
        hdrs = _server_headers()
        if status not in (204, 304):
            hdrs.append(("Content-Length", "0"))
        self._send(h11.Response(status_code=status, headers=hdrs))
        self._send(h11.EndOfMessage())
        self.responded = True

    def start_stream(self, status: int = 200, content_type: str = "application/json",
                     headers: list[tuple[str, str]] | None = None) -> None:
        """Begin a chunked response: then ``write`` pieces and ``end``."""
        hdrs = [("Content-Type", content_type), ("Transfer-Encoding", "chunked")] + _server_headers()
        self._send(h11.Response(status_code=status, headers=hdrs + (headers or [])))
        self.responded = True
        self.streaming = True

    def write(self, data: bytes) -> None:
        if data:
            self._send(h11.Data(data=data))

    def write_json(self, obj: Any) -> None:
        self.write(json.dumps(obj).encode() + b"\n")

    def end(self) -> None:
        self._send(h11.EndOfMessage())
        self.streaming = False

    def hijack(self, req: Request, content_type: str) -> Hijacked:
        """Answer ``101 UPGRADED`` (or ``200`` to a client that asked no upgrade) and hand over the
        raw socket; the connection is closed when the handler returns."""
        req.drain()
        upgrade = "upgrade" in req.headers.get("connection", "").lower()
        if upgrade:
            head = (f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {content_type}\r\nConnection: Upgrade\r\n"
                    "Upgrade: tcp\r\n\r\n")
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
        self.sock.sendall(head.encode())
        leftover, _closed = self.h11.trailing_data
        self.responded = self.hijacked = True
        return Hijacked(self.sock, bytes(leftover))


EXTRA_HEADERS: list[tuple[str, str]] = []  # on every response (``--cors``)


def _server_headers() -> list[tuple[str, str]]:
    from rpod.api import API_VERSION, LIBPOD_VERSION

    return [("Api-Version", API_VERSION), ("Libpod-Api-Version", LIBPOD_VERSION), ("Server", "rpod"),
            ("Docker-Experimental", "false"), ("Ostype", "linux"), *EXTRA_HEADERS]
