"""Reading possibly-compressed streams: gzip, zstd, xz, bzip2 or plain, told apart by magic bytes."""

from __future__ import annotations

import io
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"


def detect(head: bytes) -> str | None:
    """The compression of a stream that starts with ``head`` (None: not compressed)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    return None


def open_decompressed(raw: IO[bytes]) -> tuple[IO[bytes], str | None]:
    """``raw`` as an uncompressed stream, and the compression that was found (single pass)."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, 1 << 20)  # type: ignore[arg-type]
    kind = detect(buffered.peek(6)[:6])
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=buffered, mode="rb"), kind  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True), kind  # type: ignore[return-value]
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(buffered), kind  # type: ignore[return-value]
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(buffered), kind  # type: ignore[return-value]
    return buffered, None
