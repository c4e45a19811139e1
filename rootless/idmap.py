"""Write the uid/gid maps of a process that has just entered a new user namespace.

A map of the caller's own id only is written directly to ``/proc/PID/uid_map``
(after ``setgroups deny``, as the kernel requires); anything wider goes through
the setuid helpers ``newuidmap``/``newgidmap`` from the ``uidmap`` package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from rootless.errors import NamespaceError
from rootless.subid import IdMap


def _is_own_only(maps: Sequence[IdMap], own: int) -> bool:
    return len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1


def _helper(name: str) -> str:
    from rootless.hostgaps import idmap_helper_gap

    gap = idmap_helper_gap(name)  # missing, or neither setuid nor file capabilities: say so before running it
    if gap:
        raise NamespaceError(gap.what, hint=gap.fix)
    return shutil.which(name) or f"/usr/bin/{name}"


def _start_helper(name: str, pid: int, maps: Sequence[IdMap]) -> subprocess.Popen:
    args = [_helper(name), str(pid)]
    for m in maps:
        args += [str(m.container_id), str(m.host_id), str(m.size)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _run_helper(name: str, pid: int, maps: Sequence[IdMap]) -> None:
    _finish_helper(name, pid, _start_helper(name, pid, maps))


def _finish_helper(name: str, pid: int, proc: subprocess.Popen) -> None:
    _out, err = proc.communicate()
    if proc.returncode != 0:
        msg = (err or "").strip() or f"exit status {proc.returncode}"
        raise NamespaceError(
            f"{name} {pid} failed: {msg}",
            hint=(
                f"check that {name} is setuid root (ls -l $(which {name})) and that /etc/subuid and "
                "/etc/subgid give this user the range; inside a container the outer namespace must map it too"
            ),
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
