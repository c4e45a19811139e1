"""Hostile tar headers the unpack helper must refuse with one clear line, never a traceback
(issue 14, defect 4: a sparse map offset of 2**70 raised OverflowError out of the helper)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from rootless import unpack
from rootless.errors import UnpackError


def _sparse_tar(offset: int, count: int = 1, size: int | None = None) -> bytes:
    """A PAX 0.1 GNU sparse file whose map puts ``count`` bytes at ``offset``."""
    size = offset + count if size is None else size
    ti = tarfile.TarInfo("f")
    ti.size = count  # bytes stored in the archive
    ti.pax_headers = {"GNU.sparse.map": f"{offset},{count}", "GNU.sparse.numblocks": "1",
                      "GNU.sparse.size": str(size), "GNU.sparse.name": "f"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b"x" * count))
    return buf.getvalue()


@pytest.mark.parametrize(("offset", "size"), [(2**70, None), (2**40, 10), (10, 2**70)])
def test_sparse_map_out_of_range_is_refused(tmp_path: Path, offset: int, size: int | None) -> None:
    with pytest.raises(UnpackError, match="sparse"):
        unpack.extract(io.BytesIO(_sparse_tar(offset, size=size)), str(tmp_path), squash_ids=True)


def test_sparse_map_offset_2_70_helper_prints_one_line(tmp_path: Path) -> None:
    """The helper as the pull runs it: exit 1 and one ``rpod-unpack:`` line, no traceback."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from rootless.unpack import main; sys.exit(main(sys.argv[2:]))",
                           str(Path(unpack.__file__).parents[1]), str(tmp_path), "--squash-ids"],
                          input=_sparse_tar(2**70), capture_output=True, timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("rpod-unpack: f: sparse"), err


def test_sparse_file_within_bounds_still_works(tmp_path: Path) -> None:
    unpack.extract(io.BytesIO(_sparse_tar(1 << 20, 3)), str(tmp_path), squash_ids=True)
    st = os.stat(tmp_path / "f")
    assert st.st_size == (1 << 20) + 3
    with open(tmp_path / "f", "rb") as f:
        f.seek(1 << 20)
        assert f.read() == b"xxx"
