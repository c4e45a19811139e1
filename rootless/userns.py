"""Start processes as root inside a fresh user namespace mapped with newuidmap/newgidmap.

There is no long-lived pause process (see docs/decisions.md): every helper that
needs to be "root" over the user's subordinate ids (layer unpacking, removing a
container's files, ``rpod unshare``) gets its own short-lived namespace with the
same map, so they all see the same ownership.

``python_entry(module, *args)`` builds the argv that starts one of rootless's own
entry points in a fresh minimal interpreter (``-I -S``: no site-packages, no
environment), which is why rootless imports nothing outside the stdlib.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rootless.entry import PACKAGE_PARENT, python_entry  # noqa: F401 - part of this module's API
from rootless.errors import NamespaceError
from rootless.subid import IdMap, Mapping

# subprocess, threading and syscalls (ctypes) are imported where a namespace is made: every
# container removal imports this module for ``remove_tree``, which rarely needs one
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess


def _mapping_thread(ready_r: int, go_w: int, uid_map: Sequence[IdMap], gid_map: Sequence[IdMap],
                    errors: list[BaseException]) -> None:
    try:
        data = os.read(ready_r, 64)
        if not data:
            return  # the child died before unsharing; Popen reports it
        if data.startswith(b"E"):  # unshare(CLONE_NEWUSER) failed in the child: say why
            from rootless.hostgaps import userns_failure

            gap = userns_failure(int(data[1:]))
            errors.append(NamespaceError(gap.what, hint=gap.fix))
            return
        pid = int(data.decode())
        from rootless.idmap import write_id_maps

        try:
            write_id_maps(pid, uid_map, gid_map)
        except BaseException as e:  # reported to the caller after Popen returns
            errors.append(e)
            os.write(go_w, b"0")
            return
        os.write(go_w, b"1")
    finally:
        os.close(ready_r)
        os.close(go_w)


def popen(argv: Sequence[str], mapping: Mapping, *, mount_ns: bool = True, extra_flags: int = 0,
          die_with_parent: bool = False, **popen_kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` whose child runs as uid/gid 0 in a new user (and mount) namespace.

    The child unshares, a thread here writes its id maps, then the child becomes
    root in the namespace and execs ``argv``.  With ``die_with_parent`` the child gets
    SIGKILL when the calling thread dies (helpers that must not outlive a killed CLI).
    Raises ``NamespaceError`` when the namespace cannot be created or mapped.
    """
    import subprocess
    import threading

    from rootless import syscalls

    parent = os.getpid()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    flags = syscalls.CLONE_NEWUSER | (syscalls.CLONE_NEWNS if mount_ns else 0) | extra_flags
    errors: list[BaseException] = []

    def in_child() -> None:
        os.close(ready_r)
        os.close(go_w)
        try:
            syscalls.unshare(flags)
        except OSError as e:
            os.write(ready_w, f"E{e.errno}".encode())  # the mapping thread explains it
            os._exit(125)
        os.write(ready_w, str(os.getpid()).encode())
        if os.read(go_r, 1) != b"1":
            os._exit(125)
        try:
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            if len(mapping.gid_map) > 1:
                os.setgroups([])
            if mount_ns:
                syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            if die_with_parent:  # after setresuid, which would clear it
                syscalls.prctl(syscalls.PR_SET_PDEATHSIG, 9)
                if os.getppid() != parent:
                    os._exit(125)
        except OSError:
            os._exit(125)

    thread = threading.Thread(
        target=_mapping_thread, args=(ready_r, go_w, mapping.uid_map, mapping.gid_map, errors), daemon=True
    )
    thread.start()
    try:
        proc = subprocess.Popen(list(argv), preexec_fn=in_child, **popen_kwargs)  # noqa: PLW1509
    except BaseException:
        os.close(ready_w)
        os.close(go_r)
        thread.join()
        raise
    os.close(ready_w)
    os.close(go_r)
    thread.join()
    if errors:
        proc.wait()
        err = errors[0]
        if isinstance(err, NamespaceError):
            raise err
        raise NamespaceError(f"cannot map the user namespace: {err}")
    return proc


def run(argv: Sequence[str], mapping: Mapping, *, check: bool = False, mount_ns: bool = True,
        **popen_kwargs: Any) -> subprocess.CompletedProcess:
    """Like ``subprocess.run`` but inside a fresh user namespace (see ``popen``)."""
    import subprocess

    input_data = popen_kwargs.pop("input", None)
    if popen_kwargs.pop("capture_output", False):
        popen_kwargs["stdout"] = popen_kwargs["stderr"] = subprocess.PIPE
    if input_data is not None:
        popen_kwargs["stdin"] = subprocess.PIPE
    with popen(argv, mapping, mount_ns=mount_ns, **popen_kwargs) as proc:
        out, err = proc.communicate(input_data)
        rc = proc.returncode
    if rc == 125 and check:
        raise NamespaceError(f"{argv[0]}: could not enter the user namespace (exit 125)")
    if check and rc != 0:
        raise subprocess.CalledProcessError(rc, list(argv), out, err)
    return subprocess.CompletedProcess(list(argv), rc, out, err)


def _open_own_dirs(root: Path) -> bool:
    """``chmod u+rwx`` the directories under ``root`` that belong to the user but are closed to
    it; True when there were some."""
    import stat

    me, fixed, todo = os.getuid(), False, [str(root)]
    while todo:
        d = todo.pop()
        try:
            st = os.lstat(d)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        if st.st_uid == me and st.st_mode & 0o700 != 0o700:
            try:
                os.chmod(d, st.st_mode | 0o700)
                fixed = True
            except OSError:
                continue
        try:
            with os.scandir(d) as it:
                todo += [e.path for e in it if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
    return fixed


def remove_tree(path: str | os.PathLike[str], mapping: Mapping) -> None:
    """Remove a directory tree whose files belong to subordinate ids.

    Tries a plain removal first (the common case costs no namespace) and falls
    back to ``rm -rf`` as root in the user namespace.
    """
    import shutil

    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return
    try:
        shutil.rmtree(p)
        return
    except OSError:
        pass
    if _open_own_dirs(p):  # e.g. overlay's work/work (mode 0, ours): no namespace needed
        try:
            shutil.rmtree(p)
            return
        except OSError:
            pass
    # as root in the namespace; retried, in case a dying writer was still adding entries
    import subprocess

    err = ""
    for attempt in range(3):
        proc = run(["rm", "-rf", "--one-file-system", str(p)], mapping, mount_ns=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not p.exists() and not p.is_symlink():
            return
        err = proc.stderr.strip()
        time.sleep(0.05 * (attempt + 1))
    raise NamespaceError(f"cannot remove {p}: {err or 'rm failed'}")
