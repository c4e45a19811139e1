"""``rpod system service``: where to listen (URI, systemd's sockets, the default paths) and the loop."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rpod.errors import RpodError, UsageError

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
    import re

    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", uri)
    scheme = m.group(1) if m else ""
    raise UsageError(f'API Service endpoint scheme "{scheme}" is not supported. Try tcp://{uri} or unix:/{uri}')  # sic, Podman


def run(uri: str | None, idle_seconds: int, cors: str | None = None) -> None:
    """Listen and serve until idle for ``idle_seconds`` (0: forever); ``cors``: the value of
    ``Access-Control-Allow-Origin`` on every response (Podman's ``--cors``)."""
    from rpod.api import app, http, server

    if cors:
        http.EXTRA_HEADERS.append(("Access-Control-Allow-Origin", cors))
        from rpod.engine.api_support import debug

        debug(f"CORS Headers were set to {json.dumps(cors)}")  # Go's %q

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


def fast_main(argv: list[str]) -> int | None:
    """``rpod [--log-level L] system service [-t N] [URI]`` without loading the CLI framework (socket
    activation pays start-up on a client's first request); None for any other command line, which
    the CLI then handles (and explains)."""
    args = list(argv)
    level = None
    while args and args[0].startswith("--log-level"):
        if args[0] == "--log-level" and len(args) > 1:
            level, args = args[1], args[2:]
        elif args[0].startswith("--log-level="):
            level, args = args[0].split("=", 1)[1], args[1:]
        else:
            return None
    if args[:2] != ["system", "service"] or level not in (None, "debug", "info", "warn", "error"):
        return None
    args = args[2:]
    seconds, uri, cors = 5, None, None
    while args:
        a = args.pop(0)
        if a in ("-t", "--time") and args and args[0].isdigit():
            seconds = int(args.pop(0))
        elif a.startswith("--time=") and a[7:].isdigit():
            seconds = int(a[7:])
        elif a == "--cors" and args:
            cors = args.pop(0)
        elif a.startswith("--cors="):
            cors = a[7:]
        elif not a.startswith("-") and uri is None:
            uri = a
        else:
            return None
    if level:
        os.environ["RPOD_LOG_LEVEL"] = level
    try:
        run(uri, seconds, cors)
    except RpodError as e:
        sys.stderr.write(f"Error: {e}\n")
        return e.exit_code
    except OSError as e:  # the address is taken, the directory not ours...
        sys.stderr.write(f"Error: {e}\n")
        return 125
    return 0
