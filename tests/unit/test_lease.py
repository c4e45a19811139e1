"""Leases (rpod.image.lease): what an in-flight pull, build or commit uses survives a concurrent
clean-up (issue 14, defect 1); a dead holder's lease protects nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rpod.image.lease import Lease, leases
from rpod.image.manage import cleanup_unused
from rpod.paths import Paths

OLD = time.time() - 3600


def _layer(paths: Paths, hexd: str, age: float | None = OLD) -> Path:
    d = paths.layers / hexd
    (d / "diff").mkdir(parents=True)
    (d / "layer.json").write_text("{}")
    if age is not None:
        os.utime(d, (age, age))
    return d


def _paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "root", tmp_path / "run").ensure()


def test_named_items_survive_a_cleanup_while_the_lease_lives(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    kept, gone = _layer(paths, "a" * 64), _layer(paths, "b" * 64)
    with Lease(paths) as lease:
        lease.add(["sha256:" + "a" * 64])
        cleanup_unused(paths)
        assert kept.is_dir() and not gone.exists()
    cleanup_unused(paths)
    assert not kept.exists()


def test_what_is_written_during_a_lease_survives(tmp_path: Path) -> None:
    """A build's step writes its layer before its image is recorded: newer than the lease, kept."""
    paths = _paths(tmp_path)
    with Lease(paths):
        new = _layer(paths, "c" * 64, age=None)
        old = _layer(paths, "d" * 64)
        cleanup_unused(paths)
        assert new.is_dir() and not old.exists()
    os.utime(new, (OLD, OLD))
    cleanup_unused(paths)
    assert not new.exists()


def test_a_dead_holders_lease_expires(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    layer = _layer(paths, "e" * 64)
    code = ("import sys, os; from pathlib import Path; from rpod.paths import Paths; from rpod.image.lease import Lease; "
            "l = Lease(Paths(Path(sys.argv[1]), Path(sys.argv[2]))).__enter__(); l.add([sys.argv[3]]); "
            "print('held', flush=True); os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", code, str(paths.root), str(paths.runroot), "sha256:" + "e" * 64],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "held\n", r.stderr
    lease_files = sorted(p.name for p in (paths.root / "leases").iterdir())
    assert len(lease_files) == 2 and json.loads((paths.root / "leases" / lease_files[0]).read_text())["items"]
    cleanup_unused(paths)
    assert not layer.exists()
    assert list((paths.root / "leases").iterdir()) == []
    assert leases(paths)[0] == set()
