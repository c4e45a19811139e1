"""Start a helper process without ``subprocess`` (``os.posix_spawn``), for the monitor.

The monitor lives as long as its container, and ``subprocess`` (+ ``shutil``, ``signal``,
``threading``, ...) costs it ~2 MB in every container: the network helpers it starts
(slirp4netns) go through here.  ``Child`` has the part of ``Popen`` they use.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

SIGKILL = 9
EBADF = 9


def which(name: str) -> str | None:
    """``shutil.which``: the first executable ``name`` on ``$PATH``."""
    for d in (os.environ.get("PATH") or os.defpath).split(os.pathsep):
        path = os.path.join(d or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


class Child:
    """A spawned process: ``pid``, ``returncode`` once reaped, ``poll``/``wait``/``kill``.  A
    child reaped by someone else (the monitor reaps every child) counts as exited with 0, as
    ``Popen`` does."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def _reaped(self, flags: int) -> bool:
        if self.returncode is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.returncode = 0
            return True
        if pid == 0:
            return False
        self.returncode = os.waitstatus_to_exitcode(status)
        return True

    def poll(self) -> int | None:
        self._reaped(os.WNOHANG)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code, once the child exited; ``TimeoutError`` after ``timeout`` seconds."""
        if timeout is not None and self.returncode is None:
            import select

            try:
                pidfd = os.pidfd_open(self.pid)
            except OSError:  # already reaped by someone else
                pidfd = -1
            if pidfd >= 0:
                try:
                    if not select.select([pidfd], [], [], timeout)[0]:
                        raise TimeoutError(f"process {self.pid} still runs after {timeout} s")
                finally:
                    os.close(pidfd)
        self._reaped(0)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, SIGKILL)
            except ProcessLookupError:
                pass


def inheritable_fds(keep: Iterable[int] = ()) -> list[int]:
    """Our inheritable fds above 2, but ``keep``: what ``Popen(close_fds=True)`` would close."""
    keep = set(keep)
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                if os.get_inheritable(fd):
                    out.append(fd)
            except OSError:
                pass  # the listing's own fd, closed by now
    return out


def posix_spawn_closing(argv: list[str], first: list[tuple[object, ...]], then: list[tuple[object, ...]],
                        keep: Iterable[int] = ()) -> int:
    """``os.posix_spawn(argv)`` with the file actions ``first``, closes of our other inheritable
    fds (``inheritable_fds(keep)``), then ``then``; retried when another thread closed one of
    those fds meanwhile (EBADF)."""
    keep = set(keep)
    for attempt in range(3):
        closes: list[tuple[object, ...]] = [(os.POSIX_SPAWN_CLOSE, fd) for fd in inheritable_fds(keep)]
        try:
            return os.posix_spawn(argv[0], argv, os.environ, file_actions=[*first, *closes, *then])
        except OSError as e:
            if e.errno != EBADF or attempt == 2:
                raise
    raise AssertionError("unreachable")


def spawn(argv: list[str], stdout: int, stderr: int, pass_fds: Iterable[int] = ()) -> Child:
    """Run ``argv`` (``argv[0]`` a path) with stdin on ``/dev/null``, the given stdout and stderr
    fds (above 2), and ``pass_fds`` kept open (they are made inheritable for the spawn, then
    back); every other inheritable fd of ours above 2 is closed in the child (``close_fds``).
    The child starts in our cwd (the monitor's is ``/``).  Raises ``OSError`` when it cannot be run."""
    keep = {fd for fd in pass_fds if fd > 2}
    stdio: list[tuple[object, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                       (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    made = [fd for fd in keep if not os.get_inheritable(fd)]
    for fd in made:
        os.set_inheritable(fd, True)
    try:
        return Child(posix_spawn_closing(argv, stdio, [], keep))
    finally:
        for fd in made:
            os.set_inheritable(fd, False)
