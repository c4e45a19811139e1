"""Write the uid/gid maps of a process that has just entered a new user namespace.

A map of the caller's own id only is written directly to ``/proc/PID/uid_map``
(after ``setgroups deny``, as the kernel requires); anything wider goes through
the setuid helpers ``newuidmap``/``newgidmap`` from the ``uidmap`` package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rootless.errors import NamespaceError
from rootless.subid import IdMap


def _is_own_only(maps: Sequence[IdMap], own: int) -> bool:
    return len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1


def _helper_path(name: str) -> str:
    for d in (os.environ.get("PATH") or "/usr/bin:/bin").split(os.pathsep):
        path = os.path.join(d or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return f"/usr/bin/{name}"


def _explain(name: str, message: str, hint: str) -> NamespaceError:
    """The error for a failed helper: a host gap (missing, not setuid) when there is one."""
    from rootless.hostgaps import idmap_helper_gap  # only on failure: it is not free to import

    gap = idmap_helper_gap(name)
    return NamespaceError(gap.what, hint=gap.fix) if gap else NamespaceError(message, hint=hint)


def _start_helper(name: str, pid: int, maps: Sequence[IdMap]) -> tuple[int, int]:
    """posix_spawn (no subprocess import on every container start) with stderr on a pipe;
    returns (helper pid, read end)."""
    args = [name, str(pid)]
    for m in maps:
        args += [str(m.container_id), str(m.host_id), str(m.size)]
    r, w = os.pipe()
    try:
        child = os.posix_spawn(_helper_path(name), args, os.environ,
                               file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                             (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                             (os.POSIX_SPAWN_DUP2, w, 2), (os.POSIX_SPAWN_CLOSE, r)])
    except OSError as e:
        os.close(r)
        raise _explain(name, f"cannot run {name}: {e.strerror}", "as root: apt-get install uidmap") from e
    finally:
        os.close(w)
    return child, r


def _run_helper(name: str, pid: int, maps: Sequence[IdMap]) -> None:
    _finish_helper(name, pid, _start_helper(name, pid, maps))


def _finish_helper(name: str, pid: int, started: tuple[int, int]) -> None:
    child, r = started
    chunks = []
    try:
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
    finally:
        os.close(r)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        msg = b"".join(chunks).decode(errors="replace").strip() or f"exit status {code}"
        raise _explain(
            name, f"{name} {pid} failed: {msg}",
            f"check that {name} is setuid root (ls -l $(which {name})) and that /etc/subuid and "
            "/etc/subgid give this user the range; inside a container the outer namespace must map it too",
        )


def _write(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def write_id_maps(pid: int, uid_map: Sequence[IdMap], gid_map: Sequence[IdMap], deny_setgroups: bool = False) -> None:
    """Map ``pid``'s fresh user namespace.  Raises ``NamespaceError`` with a fix on failure."""
    try:
        if not _is_own_only(uid_map, os.geteuid()) and not _is_own_only(gid_map, os.getegid()):
            # both setuid helpers at once: they write different files (~3 ms each, on every run)
            if deny_setgroups:
                _write(f"/proc/{pid}/setgroups", "deny")
            procs = [("newuidmap", _start_helper("newuidmap", pid, uid_map)),
                     ("newgidmap", _start_helper("newgidmap", pid, gid_map))]
            errors = []
            for name, proc in procs:
                try:
                    _finish_helper(name, pid, proc)
                except NamespaceError as e:
                    errors.append(e)
            if errors:
                raise errors[0]
            return
        if _is_own_only(uid_map, os.geteuid()):
            _write(f"/proc/{pid}/uid_map", "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in uid_map))
        else:
            _run_helper("newuidmap", pid, uid_map)
        if _is_own_only(gid_map, os.getegid()):
            _write(f"/proc/{pid}/setgroups", "deny")
            _write(f"/proc/{pid}/gid_map", "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in gid_map))
        else:
            if deny_setgroups:
                _write(f"/proc/{pid}/setgroups", "deny")
            _run_helper("newgidmap", pid, gid_map)
    except OSError as e:
        raise NamespaceError(f"cannot write the id maps of process {pid}: {e.strerror}") from e


def format_map(maps: Sequence[IdMap]) -> str:
    """Render maps the way /proc/PID/uid_map shows them."""
    return "".join(f"{m.container_id:>10} {m.host_id:>10} {m.size:>10}\n" for m in maps)
