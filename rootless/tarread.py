"""Reading a layer tarball for ``rootless.unpack``: the forward-only stream ``tarfile`` parses,
member names made safe path components, PAX times, id-map ranges and sparse maps checked.
Stdlib only."""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from rootless.errors import UnpackError

CHUNK = 1 << 20  # data is skipped in chunks of this size
MAX_HEADER_READ = 16 << 20  # a PAX or GNU long-name header larger than this is hostile
_NS = 1_000_000_000

Parts = tuple[bytes, ...]


def normalize_name(name: str) -> Parts:
    """Split a tar member name into path components below DEST.

    Leading ``/`` and ``./``, empty and ``.`` components are dropped; ``()`` is DEST itself.
    Raises ``UnpackError`` for a ``..`` component or a NUL byte.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise UnpackError(f"{name!r}: the path contains a NUL byte")
    parts = tuple(p for p in raw.split(b"/") if p and p != b".")
    if b".." in parts:
        raise UnpackError(f"{display(parts) if parts else name}: the path has a '..' component")
    return parts


def display(parts: Parts) -> str:
    """Printable form of a normalised path (``.`` for DEST itself)."""
    return b"/".join(parts).decode("utf-8", "backslashreplace") if parts else "."


def parse_pax_time(value: str) -> int:
    """A PAX decimal time (``"1700000000.123456789"``, may be negative) in nanoseconds."""
    text = value.strip()
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    sec, _, frac = text.partition(".")
    if not sec.isdigit() and sec != "":
        raise ValueError(f"invalid PAX time {value!r}")
    frac_ns = int((frac + "000000000")[:9]) if frac else 0
    return sign * (int(sec or "0") * _NS + frac_ns)


def mtime_ns(ti: tarfile.TarInfo) -> int:
    """Member modification time in ns, exact when the PAX header carries one."""
    pax = ti.pax_headers
    if pax and "mtime" in pax:
        try:
            return parse_pax_time(pax["mtime"])
        except ValueError:
            pass
    return int(ti.mtime) * _NS


def read_id_ranges(path: str) -> list[tuple[int, int]] | None:
    """``(first, count)`` ranges of ids mapped in this user namespace, or None if unknown."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    ranges = []
    for line in lines:
        fields = line.split()
        if len(fields) == 3:
            ranges.append((int(fields[0]), int(fields[2])))
    return ranges


def mapped(ranges: list[tuple[int, int]] | None, ident: int) -> bool:
    if ident < 0:
        return False
    if ranges is None:
        return True  # unknown: let the kernel decide (EINVAL)
    return any(first <= ident < first + count for first, count in ranges)


class ForwardReader:
    """A file object over a stream that allows only forward seeks (tarfile's "r:" mode needs tell/seek)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.pos = 0
        self.last = b""  # what the last read() returned: tarfile's last header block at the end

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > MAX_HEADER_READ:
            raise UnpackError(f"tar header block of {size} bytes at byte {self.pos} is too large")
        data = self._stream.read(size)
        self.pos += len(data)
        self.last = data
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` unless the stream ends first; returns the byte count."""
        got = 0
        total = len(view)
        readinto = getattr(self._stream, "readinto", None)
        while got < total:
            if readinto is not None:
                n = readinto(view[got:])
            else:
                data = self._stream.read(total - got)
                n = len(data)
                view[got:got + n] = data
            if not n:
                break
            got += n
        self.pos += got
        return got

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self.pos:
            raise UnpackError(f"the tar stream would need a backward seek (to byte {pos} from {self.pos})")
        while self.pos < pos:
            data = self._stream.read(min(CHUNK, pos - self.pos))
            if not data:
                break
            self.pos += len(data)
        return self.pos


MAX_FILE_SIZE = 1 << 62  # beyond what lseek/ftruncate take (a hostile header says 2**70)


def check_sparse(ti: tarfile.TarInfo, entry: str) -> None:
    """A sparse map must stay inside the file's size, in order, within what the kernel takes."""
    if not 0 <= ti.size <= MAX_FILE_SIZE:
        raise UnpackError(f"{entry}: sparse file size {ti.size} is out of range")
    end = 0
    for offset, count in ti.sparse or ():
        if offset < 0 or count < 0 or offset + count > ti.size or (count and offset < end):
            raise UnpackError(f"{entry}: sparse map entry {offset},{count} is out of range "
                              f"(file size {ti.size})")
        if count:  # an empty entry writes nothing: GNU tar pads its map with (0, 0)
            end = offset + count
