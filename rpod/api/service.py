"""``rpod system service``: where to listen (URI, systemd's sockets, the default paths) and the loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rpod.errors import UsageError

TCP_WARNING = ("WARN[0000] Using the Podman API service with TCP sockets is not recommended, please see "
               "`rpod system service` manpage for details\n")


def runtime_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg)
    return Path(f"/tmp/rpod-run-{os.getuid()}")


def default_socket_paths() -> list[Path]:
    """``$XDG_RUNTIME_DIR/podman/podman.sock`` (where Podman's clients look) and ``…/rpod/rpod.sock``."""
    rt = runtime_dir()
    return [rt / "podman" / "podman.sock", rt / "rpod" / "rpod.sock"]


def parse_uri(uri: str) -> tuple[str, object]:
    """``unix:///path``, ``unix:path``, ``tcp://host:port``, ``tcp:host:port`` → (kind, address)."""
    if uri.startswith("unix:"):
        path = uri[len("unix:"):]
        path = path[2:] if path.startswith("//") else path
        if not path:
            raise UsageError(f"invalid URI {uri!r}: no socket path")
        return "unix", Path(path)
    if uri.startswith("tcp:"):
        rest = uri[len("tcp:"):].lstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            raise UsageError(f"invalid URI {uri!r}: use tcp://HOST:PORT")
        return "tcp", (host.strip("[]") or "127.0.0.1", int(port))
    raise UsageError(f"API Service endpoint scheme {uri.split(':', 1)[0]!r} is not supported. "
                     "Try tcp://HOST:PORT or unix:///PATH")


def run(uri: str | None, idle_seconds: int) -> None:
    """Listen and serve until idle for ``idle_seconds`` (0: forever)."""
    from rpod.api import app, server

    listeners = server.systemd_listeners()
    created: list[Path] = []
    if not listeners:
        if uri:
            kind, addr = parse_uri(uri)
            if kind == "tcp":
                sys.stderr.write(TCP_WARNING)
                listeners.append(server.bind_tcp(*addr))  # type: ignore[misc]
            else:
                listeners.append(server.bind_unix(addr))  # type: ignore[arg-type]
                created.append(addr)  # type: ignore[arg-type]
        else:
            for path in default_socket_paths():
                listeners.append(server.bind_unix(path))
                created.append(path)
    svc = server.Service(listeners, None if idle_seconds == 0 else float(idle_seconds), app.handle_connection)
    try:
        svc.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close_all(listeners, created)
