"""``rpod search`` against the test registry, output compared with Podman 4.3.1's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod

PODMAN = shutil.which("podman") or "/usr/bin/podman"


@pytest.mark.podman
def test_search_like_podman(rpod_env: RpodEnv, registry: Registry, images: ImageSet, tmp_path: Path) -> None:
    reg = registry.address
    cases = [["search", "--tls-verify=false", f"{reg}/alp"],
             ["search", "--tls-verify=false", "--limit", "2", f"{reg}/a"],
             ["search", "--tls-verify=false", "--list-tags", f"{reg}/alpine"],
             ["search", "--tls-verify=false", "--format", "{{.Name}}", f"{reg}/multi"],
             ["search", "--tls-verify=false", "--filter", "is-official=true", f"{reg}/alp"],
             ["search", "--tls-verify=false", "--format", "json", "--list-tags", f"{reg}/alpine"]]
    for args in cases:
        mine = ok(run_rpod(rpod_env, *args)).stdout
        theirs = subprocess.run([PODMAN, *args], env=rpod_env, capture_output=True, text=True, timeout=120,
                                cwd=rpod_env["HOME"])
        assert theirs.returncode == 0, theirs.stderr
        if "json" in args:
            import json

            assert json.loads(mine) == json.loads(theirs.stdout), args
        else:
            assert mine == theirs.stdout, args
    bad = run_rpod(rpod_env, "search", "--tls-verify=false", "--list-tags", "--filter", "stars=1", f"{reg}/alpine")
    assert bad.returncode == 125 and "filters are not applicable" in bad.stderr
