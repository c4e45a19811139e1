"""The store primitive under import/load/build: concurrent writers of one layer, and kill -9."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.images import ALPINE_X86_64
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _rpod(env: RpodEnv, *args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "rpod", *args], env=env, cwd=env["HOME"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def _store(env: RpodEnv) -> Path:
    return env.data_home / "rpod"


def test_concurrent_imports_of_one_layer_make_one_layer(rpod_env: RpodEnv) -> None:
    procs = [_rpod(rpod_env, "import", "-q", str(ALPINE_X86_64), f"same{i}") for i in range(3)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        ids.append(out.strip())
    assert len(set(ids)) == 1
    assert len(list((_store(rpod_env) / "layers").iterdir())) == 1
    assert not [e for e in (_store(rpod_env) / "tmp").iterdir() if e.name.startswith("spare.")]


def test_kill_9_during_import_leaves_no_layer_and_the_next_import_works(rpod_env: RpodEnv) -> None:
    raw = gzip.decompress(ALPINE_X86_64.read_bytes())
    p = _rpod(rpod_env, "import", "-q", "-", "killed", stdin=subprocess.PIPE)
    assert p.stdin is not None
    p.stdin.write(raw[: len(raw) // 2])
    p.stdin.flush()
    tmp = _store(rpod_env) / "tmp"
    deadline = time.monotonic() + 120
    while not (tmp.is_dir() and any(e.name.startswith("spare.") and any((e / "diff").iterdir())
                                    for e in tmp.iterdir() if (e / "diff").is_dir())):
        assert time.monotonic() < deadline, "the import never started unpacking"
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    p.stdin.close()
    layers = _store(rpod_env) / "layers"
    assert not layers.exists() or not list(layers.iterdir())
    ok(run_rpod(rpod_env, "import", "-q", str(ALPINE_X86_64), "after"))
    assert ok(run_rpod(rpod_env, "run", "--rm", "--network=none", "after", "cat", "/etc/alpine-release")
              ).stdout.strip() == "3.20.3"
    assert not [e for e in tmp.iterdir() if e.name.startswith("spare.")]  # the dead import's scratch is swept
