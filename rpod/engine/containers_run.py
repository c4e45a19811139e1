"""``run``, ``create``, ``start --attach`` and ``attach``: making containers and running them
attached to this process's stdio (the monitor gets our fds; signals are forwarded).

Imported only by the commands that make or attach to containers: ``run``'s start-up reads
nothing here before the monitor is spawned (``spawn_monitor`` is the first call).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rpod.engine.types import paths_or_default
from rpod.errors import UsageError

if TYPE_CHECKING:
    from rpod.container.monitorspawn import MonitorSpawn, StdioRequest
    from rpod.container.options import RunOptions
    from rpod.paths import Paths


def run_options(image: str, command: list[str]) -> RunOptions:
    """A fresh ``RunOptions`` (every ``run``/``create`` flag as a typed field) for ``image``."""
    from rpod.container.options import RunOptions

    return RunOptions(image=image, command=list(command))


def check_runtime(runtime: str | None) -> None:
    """Fail early when the host cannot run ``--runtime`` (crun refuses some hosts rpod runs on)."""
    from rpod.hostcheck import check_runtime as check

    check(runtime)


def stdio_request(interactive: bool, attach_flags: Any) -> StdioRequest:
    """This process's fds a foreground container gets (``-i``, ``-a``)."""
    from rpod.container.monitorspawn import StdioRequest

    sys.stdout.flush()
    sys.stderr.flush()
    attach = {a.lower() for a in attach_flags or ()} or {"stdout", "stderr"} | ({"stdin"} if interactive else set())
    return StdioRequest(stdin_fd=0 if interactive and "stdin" in attach else -1,
                        stdout_fd=1 if "stdout" in attach else -1,
                        stderr_fd=2 if "stderr" in attach else -1)


def spawn_monitor(detach: bool, interactive: bool = False, attach_flags: Any = None,
                  preserve_fds: int = 0) -> MonitorSpawn:
    """Start the monitor of a container about to be created (``run`` does it first thing, so the
    monitor's interpreter starts while the options are read and the bundle written); it takes
    this process's fds 3 .. ``preserve_fds``+2 (``--preserve-fds``; else ``LISTEN_FDS``'s)."""
    from rpod.container.monitorspawn import spawn_monitor as spawn

    if preserve_fds or "LISTEN_FDS" in os.environ:
        from rpod.container.listenfds import check_passed, fds_to_preserve

        check_passed(preserve_fds)
        preserve_fds = fds_to_preserve(preserve_fds)
    return spawn(None if detach else stdio_request(interactive, attach_flags), preserve_fds=preserve_fds)


def create(opts: RunOptions, *, create_command: list[str] | None = None, cid: str | None = None,
           quiet: bool = True, progress: Any = None, paths: Paths | None = None) -> Any:
    """Create a container; its image is pulled first as ``opts.pull`` says, for ``opts.platform``/
    ``arch``/``os``, reporting to ``progress`` (a ``rpod.progress`` reporter; quiet when None and
    ``quiet``).  Nothing is started; returns the container's record."""
    import dataclasses

    from rpod.container.create import create as create_container

    p = paths_or_default(paths)
    opts.validate()
    if opts.pod or opts.pod_id_file:
        from rpod.pod.create import apply as join_pod  # only for --pod: run's start-up stays light

        join_pod(p, opts)
    if opts.pull != "never":
        _pull(p, opts, progress, quiet)
        opts = dataclasses.replace(opts, pull="missing")  # pulled now: the create only resolves it
    return create_container(p, opts, create_command=create_command or [], cid=cid)


def _pull(p: Paths, opts: RunOptions, progress: Any, quiet: bool) -> None:
    """``run``/``create``'s pull with their ``--platform``, ``--arch``, ``--os`` and ``-q``."""
    from rpod.engine.progress import make_progress
    from rpod.image.pull import PullOptions, ensure_image, parse_platform

    pull_opts = PullOptions()
    if opts.platform:
        pull_opts.os, pull_opts.arch, pull_opts.variant = parse_platform(opts.platform)
    pull_opts.arch = opts.arch or pull_opts.arch
    pull_opts.os = opts.os or pull_opts.os
    reporter = progress if progress is not None else make_progress(quiet)
    try:
        ensure_image(p, opts.image, opts.pull, pull_opts, reporter)
    finally:
        if progress is None:
            reporter.close()


def start_detached(record: Any, spawn: MonitorSpawn | None = None, remove_on_error: bool = False,
                   paths: Paths | None = None) -> None:
    """Start a created container in the background (through ``spawn`` when ``run`` started its monitor)."""
    from rpod.container import lifecycle

    p = paths_or_default(paths)
    try:
        started = _start_for_run(p, record, None, spawn)
    except BaseException:
        if remove_on_error:
            with contextlib.suppress(Exception):
                lifecycle.remove(p, record, force=True, timeout=0)
        raise
    if started.sync:
        started.sync.close()


def _start_for_run(p: Paths, record: Any, io: Any, spawn: MonitorSpawn | None) -> Any:
    """``lifecycle.start`` for ``run``: a container that cannot start makes ``run`` exit 126 (127
    when something is not found), as Podman's ``define.ExitCode`` maps start errors."""
    from rpod.container import lifecycle
    from rpod.errors import EXIT_ENGINE, HostSetupError, RpodError

    try:
        return lifecycle.start(p, record, io, spawn)
    except RpodError as e:  # (a gap of the host, e.g. slirp4netns missing, stays rpod's own 125)
        if getattr(e, "exit_code", EXIT_ENGINE) == EXIT_ENGINE and not isinstance(e, HostSetupError):
            text = str(e).lower()
            e.exit_code = 127 if "no such file or directory" in text or "file not found" in text else 126
        raise


def run_attached(record: Any, opts: Any, *, sig_proxy: bool, remove: bool, spawn: MonitorSpawn | None = None,
                 paths: Paths | None = None, on_start: Callable[[], None] | None = None) -> int:
    """Start ``record`` attached to this process's stdio (through ``spawn``, a monitor started early
    with ``spawn_monitor``, if given); the container's exit code (0 when detached with the keys).
    ``on_start`` runs once the container started."""
    from rootless.monitor import stdio as mstdio
    from rpod.container import lifecycle

    p = paths_or_default(paths)
    io = spawn.io if spawn is not None else stdio_request(opts.interactive, opts.attach)
    raw = mstdio.RawTerminal(0 if opts.tty and opts.interactive else -1)
    try:
        with raw if opts.tty and opts.interactive and os.isatty(0) else contextlib.nullcontext():
            started = _start_for_run(p, record, io, spawn)
            if on_start is not None:
                on_start()
            restore = _proxy_signals(p, record, started, sig_proxy and not opts.tty)
            try:
                code = lifecycle.wait_started(p, started)
            finally:
                restore()
            if started.detached:  # ctrl-p,ctrl-q: the container runs on (and --rm is the monitor's job)
                if started.sync is not None:
                    started.sync.close()
                return 0
    except BaseException:
        if remove:
            with contextlib.suppress(Exception):
                lifecycle.remove(p, record, force=True, timeout=0)
        raise
    if remove:
        with contextlib.suppress(Exception):
            lifecycle.cleanup(p, record, rm=True)
        lifecycle.ack_removed(started)
    elif started.sync is not None:
        started.sync.close()
    pod = getattr(record.options, "pod", None)
    if pod:  # the monitor leaves a pod's exit policy to the CLI that is there (as --rm)
        from rpod.pod.ops import apply_exit_policy

        with contextlib.suppress(Exception):
            apply_exit_policy(p, pod)
    return code


def _proxy_signals(p: Paths, record: Any, started: Any, sig_proxy: bool) -> Callable[[], None]:
    """Forward signals to the container; with a terminal, follow window size changes."""
    from rpod.container import lifecycle

    handlers: dict[int, Any] = {}
    if sig_proxy:
        def forward(signum: int, _frame: Any) -> None:
            with contextlib.suppress(Exception):
                lifecycle.signal_container(p, record, signum)

        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            handlers[s] = signal.signal(s, forward)
    ctl = None
    if started.terminal and (os.isatty(0) or os.isatty(1)):
        from rootless.monitor import stdio as mstdio

        with contextlib.suppress(OSError):
            ctl = mstdio.connect_attach(str(lifecycle.ContainerStore(p).run_dir(record.id)))
            ctl.send(mstdio.CONTROL)

        def winch(_s: int, _f: Any) -> None:
            size = mstdio.get_winsize(0) or mstdio.get_winsize(1)
            if size and ctl is not None:
                with contextlib.suppress(OSError):
                    ctl.send(mstdio.RESIZE + f"{size[0]} {size[1]}".encode())

        handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, winch)

    def restore() -> None:
        for s, h in handlers.items():
            signal.signal(s, h)
        if ctl is not None:
            ctl.close()

    return restore


@dataclass
class StartAttachedOptions:
    """``start --attach/--interactive`` of one container."""

    ref: str
    interactive: bool = False
    sig_proxy: bool = True
    detach_keys: str | None = None


def start_attached(opts: StartAttachedOptions, paths: Paths | None = None) -> int:
    """Start a created container attached to this process's stdio; its exit code."""
    from rpod.container import lifecycle
    from rpod.engine.detachkeys import parse

    p = paths_or_default(paths)
    record = lifecycle.ContainerStore(p).get(opts.ref)
    run_opts = lifecycle._options(record)
    run_opts.interactive = opts.interactive
    run_opts.attach = []
    if opts.detach_keys is not None:
        parse(opts.detach_keys)
        run_opts.detach_keys = opts.detach_keys
        record.options = replace(record.options, detach_keys=opts.detach_keys)  # this start only
    return run_attached(record, run_opts, sig_proxy=opts.sig_proxy, remove=bool(run_opts.rm), paths=p)


def attach(ref: str, detach_keys: str = "ctrl-p,ctrl-q", with_stdin: bool = True,
           paths: Paths | None = None) -> int:
    """Copy a running container's output to this process's stdout/stderr and our stdin to it, until
    it exits (its exit code) or the detach keys are typed (0)."""
    import selectors

    from rootless.monitor import stdio as mstdio
    from rpod.container import lifecycle
    from rpod.engine.detachkeys import DetachMatcher, parse

    p = paths_or_default(paths)
    store = lifecycle.ContainerStore(p)
    record = store.get(ref)
    if not store.state(record.id).running:
        raise UsageError(f"you can only attach to running containers: {record.name} is not running")
    matcher = DetachMatcher(parse(detach_keys))
    sock = mstdio.connect_attach(str(store.run_dir(record.id)))
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    if with_stdin:
        sel.register(0, selectors.EVENT_READ)
        size = mstdio.get_winsize(0)
        if size:
            sock.send(mstdio.RESIZE + f"{size[0]} {size[1]}".encode())
    with mstdio.RawTerminal(0 if with_stdin and os.isatty(0) else -1):
        while True:
            for key, _ in sel.select():
                if key.fileobj is sock:
                    pkt = sock.recv(mstdio.MAX_PACKET)
                    if not pkt:
                        st = lifecycle.wait_exit(p, record.id, timeout=5)
                        return st.exit_code if st.status == "exited" else 0
                    mstdio.write_all(2 if pkt[:1] == mstdio.STDERR else 1, pkt[1:])
                    continue
                data = os.read(0, 4096)
                if not data:
                    sel.unregister(0)
                    held = matcher.flush()
                    if held:
                        sock.send(mstdio.STDIN + held)
                    sock.send(mstdio.STDIN_EOF)
                    continue
                forward, detached = matcher.feed(data)  # a possible sequence start is held back
                if forward:
                    sock.send(mstdio.STDIN + forward)
                if detached:
                    sys.stderr.write("\r\n")
                    return 0
