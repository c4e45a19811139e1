"""On a host set up like a stock systemd/udev Debian (what .ci/run does as root), rpod sees no
gap; the checks never turn an ordinary failure into a host problem.  The gaps themselves are made
real, one by one, in tests/root/test_host_gaps.py."""

from __future__ import annotations

import json
from pathlib import Path

from rootless import hostgaps
from rpod.hostcheck import explain
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_a_set_up_host_has_no_warnings(rpod_env: RpodEnv) -> None:
    warnings = json.loads(ok(run_rpod(rpod_env, "info", "--format", "{{json .Host.Warnings}}")).stdout)
    assert warnings == [], "this host lacks what rootless containers need:\n" + "\n".join(warnings)
    host = json.loads(ok(run_rpod(rpod_env, "info", "--format", "json")).stdout)["host"]
    assert host["security"]["rootless"] is True
    assert host["idMappingMode"] == "subid"
    assert host["slirp4netns"]["executable"] and host["slirp4netns"]["version"].startswith("slirp4netns")
    assert host["pasta"]["executable"]
    assert host["fuseOverlayfs"]["version"].startswith("fuse-overlayfs")


def test_every_check_passes_here() -> None:
    assert hostgaps.device_gap(hostgaps.TUN) is None
    assert hostgaps.device_gap(hostgaps.FUSE) is None
    assert hostgaps.userns_gap() is None
    assert hostgaps.idmap_helper_gap("newuidmap") is None
    assert hostgaps.idmap_helper_gap("newgidmap") is None
    assert hostgaps.crun_cgroup_gap() is None


def test_explain_leaves_ordinary_failures_alone() -> None:
    for message, code in [("cannot execute `/etc`: Is a directory: OCI runtime permission denied error", 126),
                          ("/dev/net/tun is not usable by this user (Permission denied)", 125),
                          ("newuidmap 123 failed: write to uid_map failed: Operation not permitted", 125),
                          ("unshare: Operation not permitted", 125)]:
        assert explain(message, "a hint", code) == (message, "a hint", code)


def test_a_missing_device_is_explained_with_mknod(tmp_path: Path) -> None:
    gap = hostgaps.device_gap(str(tmp_path / "tun"))
    assert gap is not None and "does not exist" in gap.what and "mknod" in gap.fix
