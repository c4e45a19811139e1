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

    def wait(self) -> int:
        self._reaped(0)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, SIGKILL)
            except ProcessLookupError:
                pass


def spawn(argv: list[str], stdout: int, stderr: int, pass_fds: Iterable[int] = ()) -> Child:
    """Run ``argv`` (``argv[0]`` a path) with stdin on ``/dev/null``, the given stdout and stderr
    fds (above 2), and ``pass_fds`` kept open (they
    are made inheritable for the spawn, then back); every other inheritable fd of ours above 2 is
    closed in the child (``close_fds``).  The child starts in our cwd (the monitor's is ``/``).
    Raises ``OSError`` when it cannot be run."""
    keep = {fd for fd in pass_fds if fd > 2}
    actions: list[tuple[object, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                         (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                if os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:
                pass  # the listing's own fd, closed by now
    made = [fd for fd in keep if not os.get_inheritable(fd)]
    for fd in made:
        os.set_inheritable(fd, True)
    try:
        return Child(os.posix_spawn(argv[0], argv, os.environ, file_actions=actions))
    finally:
        for fd in made:
            os.set_inheritable(fd, False)
