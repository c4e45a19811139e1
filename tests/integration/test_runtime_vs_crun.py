"""Differential tests: the same config.json under rootless.runtime and crun 1.8.1 must look the same inside.

crun refuses this machine's hybrid cgroup layout while cgroup2 holds the hugetlb controller; the CI
script (as root) frees it once: ``mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb none
/sys/fs/cgroup/hugetlb``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration import test_runtime as runtime_tests
from tests.integration.test_runtime import Runtime, make_bundle


@pytest.fixture(scope="session")
def alpine_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_tests.extract_alpine(tmp_path_factory.mktemp("alpine-crun") / "rootfs")

CRUN = shutil.which("crun") or "/usr/bin/crun"


def crun_run(state: Path, bundle: Path, cid: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([CRUN, "--root", str(state), "run", "--bundle", str(bundle), cid],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if "hybrid mode not supported" in proc.stderr:
        raise AssertionError(
            "crun refuses the hybrid cgroup layout; as root run: mkdir -p /sys/fs/cgroup/hugetlb && "
            "mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb")
    return proc


def both(tmp_path: Path, rootfs: Path, args: list[str], tweak=None) -> tuple[subprocess.CompletedProcess, ...]:
    bundle = tmp_path / "bundle"
    config = make_bundle(bundle, rootfs, args)
    if tweak:
        tweak(config)
        runtime_tests.write_config(bundle, config)
    ours = Runtime(tmp_path / "rpod-state").run(bundle, "diff1")
    theirs = crun_run(tmp_path / "crun-state", bundle, "diff1")
    return ours, theirs


def _mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(mount point, fs type) pairs, without the cgroup tree (crun and rpod lay it out differently)."""
    out = []
    for line in mountinfo.splitlines():
        fields = line.split()
        point, fstype = fields[4], fields[fields.index("-") + 1]
        if point.startswith("/sys/fs/cgroup"):
            continue
        out.append((point, fstype))
    return sorted(out)


CASES = {
    "id": ["id"],
    "uid_map": ["cat", "/proc/self/uid_map", "/proc/self/gid_map"],
    "caps": ["grep", "^Cap", "/proc/self/status"],
    "hostname": ["hostname"],
    "nofile": ["sh", "-c", "ulimit -n; ulimit -Hn"],
    "ps": ["ps", "-o", "pid,user,comm"],
    "dev": ["ls", "/dev"],
    "nnp": ["grep", "NoNewPrivs", "/proc/self/status"],
    "cwd": ["pwd"],
    "env": ["env"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_view(tmp_path, alpine_rootfs, case):
    ours, theirs = both(tmp_path, alpine_rootfs, CASES[case])
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_same_mounts(tmp_path, alpine_rootfs):
    ours, theirs = both(tmp_path, alpine_rootfs, ["cat", "/proc/self/mountinfo"])
    assert theirs.returncode == 0 and ours.returncode == 0, (ours.stderr, theirs.stderr)
    assert _mounts(ours.stdout) == _mounts(theirs.stdout)


@pytest.mark.parametrize("code", [0, 7, 255])
def test_same_exit_code(tmp_path, alpine_rootfs, code):
    ours, theirs = both(tmp_path, alpine_rootfs, ["sh", "-c", f"exit {code}"])
    assert ours.returncode == theirs.returncode == code


def test_same_user_and_caps_for_non_root(tmp_path, alpine_rootfs):
    def tweak(config):
        config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10]}
        c = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
        config["process"]["capabilities"] = {"bounding": c, "effective": c, "permitted": c, "inheritable": c,
                                             "ambient": c}
    ours, theirs = both(tmp_path, alpine_rootfs, ["sh", "-c", "id; grep ^Cap /proc/self/status"], tweak)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout, ours.stderr


def test_same_seccomp_effect(tmp_path, alpine_rootfs):
    def tweak(config):
        config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    ours, theirs = both(tmp_path, alpine_rootfs, ["sh", "-c", "mkdir /tmp/x; echo $?; grep Seccomp: /proc/self/status"],
                        tweak)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    assert "Permission denied" in ours.stderr and "Permission denied" in theirs.stderr
