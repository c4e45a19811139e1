"""``rpod history``, ``image tree`` and ``image diff`` output against Podman 4.3.1 on the same images."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.images import ALPINE_X86_64, ImageSet
from tests.support.leaks import stop_podman
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod

PODMAN = shutil.which("podman") or "/usr/bin/podman"


def _podman(env: RpodEnv, *args: str) -> str:
    r = subprocess.run([PODMAN, "--cgroup-manager", "cgroupfs", "--events-backend", "file", *args], env=env,
                       capture_output=True, text=True, timeout=300, cwd=env["HOME"])
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.podman
def test_history_tree_diff_like_podman(env: RpodEnv, registry: Registry, images: ImageSet, tmp_path: Path) -> None:
    penv = RpodEnv(tmp_path / "podman")
    penv.write_registries_conf(search=[registry.address], insecure=[registry.address])
    layered = images.ref("layered")
    imp = ["import", "-q", "-m", "hello msg", "--change", "CMD /bin/sh", str(ALPINE_X86_64), "alpimp"]
    try:
        _podman(penv, "pull", "-q", layered, images.ref("alpine", "latest"))  # as the env fixture
        _podman(penv, *imp)
        ok(run_rpod(env, *imp))
        for args in (["history", layered], ["history", "--no-trunc", layered], ["history", "--human=false", layered],
                     ["history", "-q", layered], ["history", "--format", "{{.ID}} {{.Size}} {{.CreatedBy}}", layered],
                     ["history", "--format", "json", layered], ["history", "--format", "json", "alpimp"]):
            assert ok(run_rpod(env, *args)).stdout == _podman(penv, *args), args
        for args in (["history", "alpimp"], ["image", "diff", "alpimp"], ["image", "tree", "alpimp"],
                     ["image", "tree", layered], ["image", "diff", layered], ["image", "tree", "--whatrequires", layered],
                     ["image", "diff", "alpimp", layered], ["image", "diff", layered, "alpimp"]):
            mine, theirs = (re.sub(r"\b[0-9a-f]{12}\b", "<ID>", t)
                            for t in (ok(run_rpod(env, *args)).stdout, _podman(penv, *args)))
            if args[1] == "tree":  # Podman's image size counts the config and manifest too
                mine, theirs = (re.sub(r"(?m)^Size: .*$", "Size:", t) for t in (mine, theirs))
            if args[1] == "diff":  # Podman lists in readdir order, rpod sorted
                mine, theirs = (sorted(t.splitlines()) for t in (mine, theirs))
            assert mine == theirs, args
        missing = run_rpod(env, "history", "nosuchimage")
        assert missing.returncode == 125 and "image not known" in missing.stderr
    finally:
        stop_podman([PODMAN], penv, penv.base)
        penv.cleanup()
