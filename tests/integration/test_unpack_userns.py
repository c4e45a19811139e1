"""The real unpack helper (``python -I -S`` as root in a fresh user namespace) on hostile and
ordinary tarballs built here; assertions are on the host's view of the files."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rootless import userns
from rootless.subid import default_mapping, map_id

Entry = tuple[tarfile.TarInfo, bytes | None]


def file_entry(name: str, data: bytes = b"", **attrs: Any) -> Entry:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    for k, v in attrs.items():
        setattr(ti, k, v)
    return ti, data


def node_entry(name: str, kind: bytes, **attrs: Any) -> Entry:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = 0o755
    for k, v in attrs.items():
        setattr(ti, k, v)
    return ti, None


def make_tar(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


@dataclass
class Result:
    rc: int
    stats: dict[str, Any]
    err: str


def run_unpack(data: bytes, dest: Path, *flags: str) -> Result:
    """Feed ``data`` to the helper exactly as the pull pipeline does."""
    with userns.popen(userns.python_entry("rootless.unpack", str(dest), *flags), default_mapping(),
                      mount_ns=False, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE) as proc:
        try:
            out, err = proc.communicate(data)
        except BrokenPipeError:  # the helper stopped reading: it reports why on stderr
            out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
            proc.wait()
    stats = json.loads(out) if proc.returncode == 0 else {}
    return Result(proc.returncode, stats, err.decode())


def host_uid(container_uid: int) -> int:
    uid = map_id(default_mapping().uid_map, container_uid)
    assert uid is not None
    return uid


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(dest, outside): DEST and a sentinel directory beside it that must stay untouched."""
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("do not touch\n")
    yield dest, outside
    userns.remove_tree(dest, default_mapping())  # files of subordinate ids: pytest cannot remove them


def assert_untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "do not touch\n"
    assert not (outside.parent / "x").exists() and not (outside.parent / "passwd").exists()


def test_mapping_is_subid() -> None:
    mapping = default_mapping()
    assert mapping.mode == "subid", f"these tests need a subordinate id range: {mapping.reason}"


# ------------------------------------------------------------------ hostile input
def test_dotdot_is_rejected(layout: tuple[Path, Path]) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([file_entry("ok", b"1"), file_entry("../x", b"evil")]), dest)
    assert res.rc == 1
    assert res.err.startswith("rpod-unpack: ") and "'..' component" in res.err
    assert_untouched(outside)


def test_dotdot_into_sentinel_is_rejected(layout: tuple[Path, Path]) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([file_entry("a/../../outside/secret", b"evil")]), dest)
    assert res.rc == 1 and "'..' component" in res.err
    assert_untouched(outside)


def test_absolute_path_lands_inside(layout: tuple[Path, Path]) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([file_entry(f"{outside}/secret", b"inside"), file_entry("/etc/passwd", b"p")]), dest)
    assert res.rc == 0, res.err
    assert (dest / str(outside).lstrip("/") / "secret").read_bytes() == b"inside"
    assert (dest / "etc" / "passwd").read_bytes() == b"p"
    assert_untouched(outside)


@pytest.mark.parametrize("target", ["ABS", "../outside", "../../../../../../../../../../ABS"])
def test_write_through_symlink_is_rejected(layout: tuple[Path, Path], target: str) -> None:
    dest, outside = layout
    target = target.replace("ABS", str(outside).lstrip("/") if target.startswith("..") else str(outside))
    res = run_unpack(make_tar([node_entry("link", tarfile.SYMTYPE, linkname=target),
                               file_entry("link/secret", b"evil"), file_entry("link/new", b"evil")]), dest)
    assert res.rc == 1
    assert "link/secret: link is a symlink or not a directory; refusing to write through it" in res.err
    assert_untouched(outside)
    assert os.readlink(dest / "link") == target  # the symlink itself is fine: it is read inside the container


def test_nested_symlink_parent_is_rejected(layout: tuple[Path, Path]) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([node_entry("a", tarfile.DIRTYPE),
                               node_entry("a/b", tarfile.SYMTYPE, linkname=str(outside)),
                               node_entry("a/b/c", tarfile.DIRTYPE)]), dest)
    assert res.rc == 1 and "a/b/c: a/b is a symlink" in res.err
    assert_untouched(outside)


def test_symlink_replacing_a_directory_is_not_followed(layout: tuple[Path, Path]) -> None:
    """A cached directory fd must not outlive its replacement by a symlink."""
    dest, outside = layout
    res = run_unpack(make_tar([node_entry("d", tarfile.DIRTYPE), file_entry("d/f", b"1"),
                               node_entry("d", tarfile.SYMTYPE, linkname=str(outside)),
                               file_entry("d/secret", b"evil")]), dest)
    assert res.rc == 1 and "d/secret: d is a symlink" in res.err
    assert_untouched(outside)


@pytest.mark.parametrize(("linkname", "message"), [
    ("../outside/secret", "'..' component"),
    ("/etc/passwd", "hard link target etc/passwd does not exist in this layer"),
    ("missing", "hard link target missing does not exist in this layer"),
    ("sym/secret", "sym is a symlink or not a directory"),
])
def test_hostile_hardlinks(layout: tuple[Path, Path], linkname: str, message: str) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([node_entry("sym", tarfile.SYMTYPE, linkname=str(outside)),
                               node_entry("h", tarfile.LNKTYPE, linkname=linkname)]), dest)
    assert res.rc == 1 and message in res.err, res.err
    assert_untouched(outside)
    assert (outside / "secret").stat().st_nlink == 1


def test_hardlink_to_symlink_links_the_symlink(layout: tuple[Path, Path]) -> None:
    dest, outside = layout
    res = run_unpack(make_tar([node_entry("sym", tarfile.SYMTYPE, linkname=f"{outside}/secret"),
                               node_entry("h", tarfile.LNKTYPE, linkname="sym")]), dest)
    assert res.rc == 0, res.err
    assert (dest / "h").is_symlink() and (dest / "h").lstat().st_ino == (dest / "sym").lstat().st_ino
    assert (outside / "secret").stat().st_nlink == 1


@pytest.mark.parametrize("name", ["sub/.wh..", "sub/.wh...", "sub/.wh."])
def test_whiteout_of_dot_or_dotdot_is_rejected(layout: tuple[Path, Path], name: str) -> None:
    dest, _ = layout
    res = run_unpack(make_tar([file_entry("sub/keep", b"1"), file_entry("top", b"2"), file_entry(name)]), dest)
    assert res.rc == 1 and f"{name}: invalid whiteout name" in res.err
    assert (dest / "sub" / "keep").read_bytes() == b"1" and (dest / "top").read_bytes() == b"2"


def test_device_nodes_are_skipped(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    res = run_unpack(make_tar([node_entry("dev", tarfile.DIRTYPE),
                               node_entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                               node_entry("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                               node_entry("dev/fifo", tarfile.FIFOTYPE, mode=0o620),
                               file_entry("after", b"still extracted")]), dest)
    assert res.rc == 0, res.err
    assert res.stats["skipped"] == [
        {"path": "dev/null", "reason": "character device 1:3 cannot be created in a user namespace"},
        {"path": "dev/sda", "reason": "block device 8:0 cannot be created in a user namespace"},
    ]
    assert sorted(os.listdir(dest / "dev")) == ["fifo"]
    st = (dest / "dev" / "fifo").lstat()
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620
    assert (dest / "after").read_bytes() == b"still extracted"


def test_absurd_size_fails_on_free_space(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    ti = tarfile.TarInfo("huge")
    ti.size = 1 << 50  # a petabyte
    data = ti.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 4096
    res = run_unpack(data, dest)
    assert res.rc == 1
    assert f"huge: the file is {1 << 50} bytes but only" in res.err and "bytes are free" in res.err
    assert not (dest / "huge").exists() or (dest / "huge").stat().st_size == 0


@pytest.mark.parametrize("size", [100_000, 20 << 20])
def test_truncated_data_is_an_error(layout: tuple[Path, Path], size: int) -> None:
    dest, _ = layout
    ti = tarfile.TarInfo("short")
    ti.size = size
    res = run_unpack(ti.tobuf(format=tarfile.PAX_FORMAT) + b"y" * 3000, dest)
    assert res.rc == 1 and f"short: the tar stream is truncated (3000 of {size} bytes of data)" in res.err


def test_truncated_header_is_an_error(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    data = make_tar([file_entry("a", b"1"), file_entry("b", b"2")])
    cut = 512 + 512 + 100  # first entry complete, second header cut short
    res = run_unpack(data[:cut], dest)
    assert res.rc == 1 and "truncated" in res.err


def test_garbage_header_is_an_error(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    data = make_tar([file_entry("a", b"1")])
    res = run_unpack(data[:1024] + b"\xff" * 512 + b"\0" * 1024, dest)
    assert res.rc == 1 and "invalid tar header at byte 1024" in res.err


def test_huge_pax_header_is_rejected(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    ti = tarfile.TarInfo("././@PaxHeader")
    ti.type = tarfile.XHDTYPE
    ti.size = 1 << 40
    res = run_unpack(ti.tobuf(format=tarfile.GNU_FORMAT) + b"0" * 1024, dest)
    assert res.rc == 1 and "too large" in res.err


def test_not_a_tar(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    res = run_unpack(b"\x1f\x8b\x08\x00 gzip is decompressed by the CLI, not here" * 20, dest)
    assert res.rc == 1 and res.err.startswith("rpod-unpack: not a tar stream")


# ------------------------------------------------------------------ ordinary content
CAP_NET_BIND_SERVICE = 10


def _caps_v2(bit: int) -> bytes:
    # vfs_cap_data revision 2 with the effective flag: magic, then (permitted, inheritable) x 2
    return struct.pack("<IIIII", 0x02000000 | 1, 1 << bit, 0, 0, 0)


def test_ownership_modes_whiteouts_and_xattrs(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    ping = file_entry("bin/ping", b"\x7fELF", mode=0o755)
    ping[0].pax_headers = {"SCHILY.xattr.security.capability": _caps_v2(CAP_NET_BIND_SERVICE).decode(
        "utf-8", "surrogateescape")}
    noted = file_entry("etc/noted", b"n", uid=7, gid=8)
    noted[0].pax_headers = {"SCHILY.xattr.user.comment": "kept", "SCHILY.xattr.trusted.secret": "dropped",
                            "SCHILY.xattr.user.overlay.redirect": "/etc"}
    res = run_unpack(make_tar([
        node_entry("./", tarfile.DIRTYPE, mode=0o755, mtime=1_000_000),
        node_entry("bin", tarfile.DIRTYPE, mtime=1_111_111),
        file_entry("bin/su", b"su", mode=0o4755, uid=0, gid=0),
        file_entry("bin/wall", b"wall", mode=0o2755, uid=0, gid=5),
        ping,
        node_entry("home", tarfile.DIRTYPE),
        node_entry("home/u", tarfile.DIRTYPE, mode=0o751, uid=1000, gid=1000),
        file_entry("home/u/.profile", b"p", uid=1000, gid=1000, mode=0o600),
        node_entry("home/u/link", tarfile.SYMTYPE, linkname=".profile", uid=1000, gid=1000),
        node_entry("bin/su2", tarfile.LNKTYPE, linkname="bin/su"),
        node_entry("tmp", tarfile.DIRTYPE, mode=0o1777),
        node_entry("sgid", tarfile.DIRTYPE, mode=0o2775, gid=50),
        file_entry("sgid/f", b"g", uid=3, gid=4),
        file_entry("nobody", b"x", uid=70000, gid=70000),
        file_entry("etc/shadow", b"s"),
        file_entry("etc/.wh.shadow"),
        file_entry("etc/.wh.gone"),
        node_entry("opq", tarfile.DIRTYPE),
        file_entry("opq/.wh..wh..opq"),
        file_entry(".wh..wh..plnk/123.456", b"aufs"),
        noted,
    ]), dest)
    assert res.rc == 0, res.err
    s = res.stats
    assert s["whiteouts"] == 2 and s["opaque"] == 1 and s["hardlinks"] == 1 and s["squashed"] == 1
    assert {"path": ".wh..wh..plnk/123.456", "reason": "aufs metadata"} in s["skipped"]
    assert {"path": "etc/noted", "xattr": "trusted.secret", "reason": "Operation not permitted"} in s["ignored_xattrs"]
    assert any(x["xattr"] == "user.overlay.redirect" for x in s["ignored_xattrs"])

    me = os.getuid()
    su = (dest / "bin" / "su").stat()
    assert (su.st_uid, su.st_gid) == (me, os.getgid())
    assert stat.S_IMODE(su.st_mode) == 0o4755, "setuid must survive the chown"
    wall = (dest / "bin" / "wall").stat()
    assert wall.st_gid == host_uid(5) and stat.S_IMODE(wall.st_mode) == 0o2755
    u = (dest / "home" / "u").stat()
    assert (u.st_uid, u.st_gid) == (host_uid(1000), host_uid(1000))
    assert stat.S_IMODE(u.st_mode) == 0o751
    link = (dest / "home" / "u" / "link").lstat()
    assert link.st_uid == host_uid(1000), "symlinks are lchown'ed"
    assert stat.S_IMODE((dest / "tmp").stat().st_mode) == 0o1777
    sg = (dest / "sgid").stat()
    assert stat.S_IMODE(sg.st_mode) == 0o2775 and sg.st_gid == host_uid(50)
    assert (dest / "sgid" / "f").stat().st_gid == host_uid(4), "the tar's group wins over the setgid dir's"
    nobody = (dest / "nobody").stat()
    assert (nobody.st_uid, nobody.st_gid) == (me, os.getgid()), "unmapped ids are squashed to container root"
    # hardlinks share the inode
    assert (dest / "bin" / "su2").stat().st_ino == su.st_ino and su.st_nlink == 2
    # whiteouts: 0:0 character devices replacing what was there
    for name in ("shadow", "gone"):
        st = (dest / "etc" / name).lstat()
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not (dest / "etc" / ".wh.shadow").exists()
    assert os.getxattr(dest / "opq", "user.overlay.opaque") == b"y"
    assert not (dest / ".wh..wh..plnk").exists()
    assert os.getxattr(dest / "etc" / "noted", "user.comment") == b"kept"
    assert "user.overlay.redirect" not in os.listxattr(dest / "etc" / "noted")
    # file capabilities: written as v2 inside, stored as v3 with the namespace's root (= us) as rootid
    cap = os.getxattr(dest / "bin" / "ping", "security.capability")
    magic, perm_lo, _inh_lo, _perm_hi, _inh_hi, rootid = struct.unpack("<IIIIII", cap)
    assert magic == 0x03000001 and perm_lo == 1 << CAP_NET_BIND_SERVICE and rootid == me
    # directory mtimes are set last
    assert (dest / "bin").stat().st_mtime == 1_111_111
    assert dest.stat().st_mtime == 1_000_000


def test_squash_ids(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    res = run_unpack(make_tar([file_entry("a", b"1", uid=1000, gid=1000),
                               file_entry("b", b"2", mode=0o4755, uid=5),
                               node_entry("d", tarfile.DIRTYPE, uid=33, gid=33)]), dest, "--squash-ids")
    assert res.rc == 0, res.err
    assert res.stats["squashed"] == 3
    for name in ("a", "b", "d"):
        st = (dest / name).stat()
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    # setuid to uid 5, squashed to us: the bit is dropped (it would make the file setuid to us)
    assert stat.S_IMODE((dest / "b").stat().st_mode) == 0o755 and res.stats["setid_dropped"] == 1


def test_whiteout_replaces_directory_and_file_replaces_whiteout(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    res = run_unpack(make_tar([node_entry("d", tarfile.DIRTYPE), file_entry("d/f", b"1"),
                               file_entry(".wh.d"), file_entry(".wh.x"), file_entry("x", b"back")]), dest)
    assert res.rc == 0, res.err
    assert stat.S_ISCHR((dest / "d").lstat().st_mode)
    assert (dest / "x").read_bytes() == b"back"


def test_many_files_and_big_file(layout: tuple[Path, Path]) -> None:
    dest, _ = layout
    big = os.urandom(3 << 20) + b"tail"
    entries = [file_entry(f"d{i // 100}/f{i}", str(i).encode()) for i in range(600)]
    entries.append(file_entry("big", big))
    res = run_unpack(make_tar(entries), dest)
    assert res.rc == 0, res.err
    assert res.stats["files"] == 601 and res.stats["bytes"] == len(big) + sum(len(str(i)) for i in range(600))
    assert (dest / "d5" / "f599").read_bytes() == b"599"
    assert (dest / "big").read_bytes() == big


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_sparse_files_from_gnu_tar(layout: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.seek(1 << 20)
        f.write(b"middle")
        f.seek(5 << 20)
        f.write(b"end")
    data = subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", str(src), "-cf", "-", "sparse"],
                          check=True, stdout=subprocess.PIPE).stdout
    dest, _ = layout
    res = run_unpack(data, dest)
    assert res.rc == 0, res.err
    assert (dest / "sparse").read_bytes() == (src / "sparse").read_bytes()
    assert (dest / "sparse").stat().st_blocks * 512 < 1 << 20, "holes stay holes"


@pytest.mark.parametrize(("pax", "message"), [
    ({"path": "a\0b"}, "the path contains a NUL byte"),
    ({"path": "../outside/secret"}, "'..' component"),
    ({"linkpath": "../outside/secret"}, "'..' component"),
])
def test_hostile_pax_names(layout: tuple[Path, Path], pax: dict[str, str], message: str) -> None:
    """PAX records override the ustar name: they are normalised and checked the same way."""
    dest, outside = layout
    ti = tarfile.TarInfo("innocent")
    if "linkpath" in pax:
        ti.type = tarfile.LNKTYPE
    ti.pax_headers = pax
    res = run_unpack(make_tar([(ti, None)]), dest)
    assert res.rc == 1 and message in res.err, res.err
    assert_untouched(outside)
