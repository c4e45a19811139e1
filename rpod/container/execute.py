"""``exec``: run a process in a running container, through rpod's runtime core (or the OCI
runtime CLI the container runs with), on this process's stdio or a new terminal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from pathlib import Path

from rootless import ctrfiles
from rootless.monitor import exitfile
from rpod.container.lifecycle import raise_for_code, resolve_runtime, runtime_state_root
from rpod.container.state import ContainerRecord, ContainerStore
from rpod.errors import StateConflict, UsageError
from rpod.paths import Paths

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def exec_in(paths: Paths, record: ContainerRecord, args: list[str], *, tty: bool = False,
            interactive: bool = False, env: list[str] | None = None, user: str | None = None,
            workdir: str | None = None, detach: bool = False) -> int:
    """Run ``args`` in the running container; return its exit code (0 at once with ``detach``)."""
    from rootless.runtime import api
    from rootless.runtime.errors import ContainerError

    store = ContainerStore(paths)
    if store.state(record.id).status != "running":
        raise StateConflict("can only create exec sessions on running containers: container state improper")
    if not args:
        raise UsageError("must provide a non-empty command to start an exec session: invalid argument")
    state_root = runtime_state_root(paths)
    cli_runtime = resolve_runtime(record.options.runtime) if record.options.runtime else None
    if cli_runtime and tty:
        raise UsageError("exec -t into a container run with --runtime is not supported yet",
                         hint="exec without -t, or run the container with rpod's own runtime")
    api.become_subreaper()  # the runtime's intermediate process exits: its child must become ours
    if cli_runtime:
        with open(store.dir(record.id) / ctrfiles.SPEC) as f:
            process = dict(json.load(f).get("process") or {}, args=list(args), terminal=False)
    else:
        process = api.exec_defaults(record.id, state_root, args, tty=tty)
    if env:
        from rpod.container.options import parse_env

        process["env"] = parse_env(env, [], False, list(process.get("env") or []))
    if workdir:
        process["cwd"] = workdir
    if user:
        from rpod.container.users import resolve_user

        # the container's own view first (as Podman reads its mounted root: keep-id's passwd entry,
        # files the container changed), then its upper dir and image layers if that is not reachable
        live = Path(f"/proc/{store.state(record.id).pid}/root")
        first = [live] if os.access(live / "etc", os.R_OK) else []
        ru = resolve_user(user, [*first, store.dir(record.id) / ctrfiles.UPPER, *_layer_dirs_top_first(paths, record)])
        process["user"] = {"uid": ru.uid, "gid": ru.gid, "additionalGids": list(ru.additional_gids)}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        if tty:
            return _exec_tty(paths, record, process, interactive, detach)
        stdio = (0 if interactive else devnull, devnull if detach else 1, devnull if detach else 2)
        if cli_runtime:
            return _exec_cli(cli_runtime, state_root, store.state(record.id).pid, record.id, process, stdio,
                             store.run_dir(record.id), detach)
        try:
            pid = api.exec_process(record.id, state_root, process, stdio=stdio)
        except ContainerError as e:
            raise_for_code(str(e), e.exit_code if e.exit_code in (126, 127) else 125)
        if detach:
            return 0
        return _wait_child(pid)
    finally:
        os.close(devnull)


def _exec_cli(runtime: list[str], state_root: str, init_pid: int, cid: str, process: dict[str, Any],
              stdio: tuple[int, int, int], run_dir: Path, detach: bool) -> int:
    """``exec`` through an OCI runtime CLI, run as root of the container's user namespace (the
    namespace the runtime created the container in, see the monitor's ``_rootfs_userns``)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", dir=run_dir, prefix="exec-", suffix=".json") as pf:
        json.dump(process, pf)
        pf.flush()
        argv = ["nsenter", "-U", "-t", str(init_pid), "--", *runtime, "--root", state_root, "exec",
                "--process", pf.name, *(["-d"] if detach else []), cid]
        proc = subprocess.run(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], check=False)
    return 0 if detach and proc.returncode == 0 else proc.returncode


def _layer_dirs_top_first(paths: Paths, record: ContainerRecord) -> list[Path]:
    from rpod.image.store import ImageStore

    images = ImageStore(paths)
    rec = images.get(record.image_id)
    return list(reversed(images.layer_dirs(rec))) if rec else []


def _wait_child(pid: int) -> int:
    old = {s: signal.signal(s, lambda signum, _f: _forward(pid, signum))
           for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return exitfile.decode_wait_status(status)[0]


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signum)


def _exec_tty(paths: Paths, record: ContainerRecord, process: dict[str, Any], interactive: bool,
              detach: bool) -> int:
    import tempfile

    from rootless.monitor import stdio as mstdio
    from rootless.runtime import api
    from rootless.runtime.errors import ContainerError

    d = tempfile.mkdtemp(prefix="rpod-ex-", dir="/tmp")
    path = os.path.join(d, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        try:
            pid = api.exec_process(record.id, runtime_state_root(paths), process, console_socket=path)
        except ContainerError as e:
            raise_for_code(str(e), e.exit_code if e.exit_code in (126, 127) else 125)
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            master = mstdio.recv_fd(conn)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(d)
    if detach:
        os.close(master)
        return 0
    mstdio.copy_terminal(master, interactive)
    return _wait_child(pid)
