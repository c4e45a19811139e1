"""``tmpcopyup``: a new tmpfs starts with the content the image had at its mount point.

Podman asks for it on every tmpfs mount unless ``notmpcopyup`` (crun's extension to the OCI
mount options).  Before the tmpfs is mounted, the runtime opens the directory it will cover;
afterwards it copies that directory's entries into the tmpfs: files, directories, symlinks,
fifos and sockets, with their owner and mode (device nodes cannot be made in a user namespace and
are left out).  A file copied with ``rpod cp`` into a container that was not running yet reaches
its tmpfs this way, as with Podman.

Imported only when a mount asks for it (stdlib only, runs in the container's init before
``pivot_root``).
"""

from __future__ import annotations

import errno
import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_source(path: str) -> int:
    """An fd of the directory a mount will cover, or -1 when there is none to copy from."""
    try:
        return os.open(path, _DIR | os.O_NOFOLLOW)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return -1
        raise


def copy_up(src_fd: int, dest: str) -> None:
    """Copy the entries of ``src_fd`` (closed here) into the directory ``dest``."""
    dst_fd = os.open(dest, _DIR)
    try:
        _copy_dir(src_fd, dst_fd)
    finally:
        os.close(dst_fd)
        os.close(src_fd)


def _copy_dir(src: int, dst: int) -> None:
    for name in os.listdir(src):
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            _copy_file(src, dst, name)
        elif stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            sub_src = os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=src)
            sub_dst = os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=dst)
            try:
                _copy_dir(sub_src, sub_dst)
            finally:
                os.close(sub_src)
                os.close(sub_dst)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            os.mknod(name, mode, dir_fd=dst)
        else:
            continue  # a device node: mknod is refused in a user namespace
        try:
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM):  # an id without a mapping here: keep ours
                raise
        if not stat.S_ISLNK(mode):
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst)  # after chown, which clears set-id bits


def _copy_file(src: int, dst: int, name: str) -> None:
    sfd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
    try:
        dfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=dst)
        try:
            while os.sendfile(dfd, sfd, None, 1 << 30) > 0:
                pass
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
