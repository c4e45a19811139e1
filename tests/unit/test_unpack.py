"""Unit tests for rootless.unpack: name normalisation, PAX times, the forward-only reader, and
in-process extraction of what an unprivileged process may create (squash_ids)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from rootless import tarread, unpack
from rootless.errors import UnpackError


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"", **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    for k, v in attrs.items():
        setattr(ti, k, v)
    return ti, data


def _node(name: str, kind: bytes, **attrs: object) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = 0o755
    for k, v in attrs.items():
        setattr(ti, k, v)
    return ti, None


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a/b", (b"a", b"b")),
        ("./a/b/", (b"a", b"b")),
        ("/abs/path", (b"abs", b"path")),
        ("././x", (b"x",)),
        ("a//b/./c", (b"a", b"b", b"c")),
        (".", ()),
        ("./", ()),
        ("", ()),
        ("/", ()),
        ("caf\u00e9", ("caf\u00e9".encode(),)),
        ("bad\udcffname", (b"bad\xffname",)),  # undecodable bytes round-trip
    ],
)
def test_normalize_name(name: str, parts: tuple[bytes, ...]) -> None:
    assert unpack.normalize_name(name) == parts


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/..", "a/..", "./../etc/passwd"])
def test_normalize_name_rejects_dotdot(name: str) -> None:
    with pytest.raises(UnpackError, match=r"'\.\.' component"):
        unpack.normalize_name(name)


def test_normalize_name_rejects_nul() -> None:
    with pytest.raises(UnpackError, match="NUL byte"):
        unpack.normalize_name("a\0b")


def test_display() -> None:
    assert unpack.display(()) == "."
    assert unpack.display((b"a", b"\xff")) == "a/\\xff"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1700000000", 1_700_000_000_000_000_000),
        ("1700000000.5", 1_700_000_000_500_000_000),
        ("1700000000.123456789123", 1_700_000_000_123_456_789),
        ("-1.5", -1_500_000_000),
        ("0.000000001", 1),
    ],
)
def test_parse_pax_time(text: str, ns: int) -> None:
    assert unpack.parse_pax_time(text) == ns


def test_parse_pax_time_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        unpack.parse_pax_time("12a.5")


def test_read_id_ranges(tmp_path: Path) -> None:
    f = tmp_path / "uid_map"
    f.write_text("         0       1001          1\n         1     100000      65536\n")
    ranges = tarread.read_id_ranges(str(f))
    assert ranges == [(0, 1), (1, 65536)]
    assert tarread.mapped(ranges, 65536) and not tarread.mapped(ranges, 65537)
    assert not tarread.mapped(ranges, -1)
    assert tarread.read_id_ranges(str(tmp_path / "missing")) is None


def test_forward_reader_refuses_backward_seek_and_huge_reads() -> None:
    r = tarread.ForwardReader(io.BytesIO(b"x" * 4096))
    assert r.read(10) == b"x" * 10
    assert r.seek(100) == 100 and r.tell() == 100
    buf = memoryview(bytearray(50))
    assert r.readinto(buf) == 50 and r.tell() == 150
    with pytest.raises(UnpackError, match="backward seek"):
        r.seek(0)
    with pytest.raises(UnpackError, match="too large"):
        r.read(tarread.MAX_HEADER_READ + 1)
    assert r.seek(10_000) == 4096  # past the end: stops at EOF


def test_extract_in_process(tmp_path: Path) -> None:
    """Files, dirs, symlinks, hardlinks, long names, PAX mtimes and user xattrs, squashed ids."""
    dest = tmp_path / "dest"
    dest.mkdir()
    long_name = "d/" + "n" * 200
    pax_file = _file("d/precise", b"p")
    pax_file[0].pax_headers = {"mtime": "1600000000.123456789", "SCHILY.xattr.user.note": "hello"}
    data = _tar([
        _node("d", tarfile.DIRTYPE, mtime=1_500_000_000),
        _file("d/f", b"hello", mode=0o640, uid=1000, gid=1000, mtime=1_400_000_000),
        _file(long_name, b"long"),
        pax_file,
        _node("d/link", tarfile.SYMTYPE, linkname="f"),
        _node("d/hard", tarfile.LNKTYPE, linkname="d/f"),
        _file("implicit/parent/file", b"x"),
        _node("fifo", tarfile.FIFOTYPE, mode=0o600),
    ])
    stats = unpack.extract(io.BytesIO(data), str(dest), squash_ids=True)
    assert stats["files"] == 4 and stats["bytes"] == 5 + 4 + 1 + 1
    assert stats["symlinks"] == 1 and stats["hardlinks"] == 1 and stats["squashed"] == 1
    f = dest / "d" / "f"
    assert f.read_bytes() == b"hello"
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert f.stat().st_mtime == 1_400_000_000
    assert (dest / long_name).read_bytes() == b"long"
    assert (dest / "d" / "precise").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert os.getxattr(dest / "d" / "precise", "user.note") == b"hello"
    assert os.readlink(dest / "d" / "link") == "f"
    assert (dest / "d" / "hard").stat().st_ino == f.stat().st_ino
    assert (dest / "implicit" / "parent" / "file").read_bytes() == b"x"
    assert stat.S_ISFIFO((dest / "fifo").lstat().st_mode)
    assert (dest / "d").stat().st_mtime == 1_500_000_000  # set after its children were created


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    data = _tar([
        _file("x", b"first"),
        _file("x", b"second"),
        _node("dir", tarfile.DIRTYPE),
        _file("dir/child", b"c"),
        _file("dir", b"now a file"),
        _node("s", tarfile.SYMTYPE, linkname="x"),
        _file("s", b"not a symlink any more"),
    ])
    unpack.extract(io.BytesIO(data), str(dest), squash_ids=True)
    assert (dest / "x").read_bytes() == b"second"
    assert (dest / "dir").read_bytes() == b"now a file"
    assert not (dest / "s").is_symlink() and (dest / "s").read_bytes() == b"not a symlink any more"


def test_extract_gnu_format_and_sparse_free_stream(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    long_link = "t" * 150
    data = _tar([_file(long_link, b"z"), _node("l" * 120, tarfile.SYMTYPE, linkname=long_link)],
                fmt=tarfile.GNU_FORMAT)
    unpack.extract(io.BytesIO(data), str(dest), squash_ids=True)
    assert os.readlink(dest / ("l" * 120)) == long_link


def test_rejects_non_tar(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnpackError, match="not a tar stream"):
        unpack.extract(io.BytesIO(b"this is not a tarball" * 100), str(dest))
    with pytest.raises(UnpackError, match="not a tar stream"):
        unpack.extract(io.BytesIO(b""), str(dest))


def test_missing_destination(tmp_path: Path) -> None:
    with pytest.raises(UnpackError, match="cannot open the destination"):
        unpack.extract(io.BytesIO(_tar([_file("a")])), str(tmp_path / "nope"))


def test_main_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert unpack.main([]) == 2
    assert "usage" in capsys.readouterr().err
