"""Root-only suite: situations that need root to set up (another user, without a subuid range)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.images import ImageSet

pytestmark = pytest.mark.root

USER = "rpodnosubid"


@pytest.fixture(scope="module")
def user_without_subids() -> str:
    if os.getuid() != 0:
        pytest.fail("the root suite must run as root (.ci/run runs it with -m root)")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    for f in ("/etc/subuid", "/etc/subgid"):
        lines = [ln for ln in Path(f).read_text().splitlines() if not ln.startswith(USER + ":")]
        Path(f).write_text("\n".join(lines) + ("\n" if lines else ""))
    return USER


def test_pull_without_a_subuid_range_falls_back_to_a_single_id(user_without_subids: str,
                                                               images: ImageSet) -> None:
    home = Path(tempfile.mkdtemp(prefix="rpod-nosub-"))
    pw = pwd.getpwnam(user_without_subids)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    conf = home / ".config" / "containers"
    conf.mkdir(parents=True)
    reg = images.registry.address
    (conf / "registries.conf").write_text(
        f'unqualified-search-registries = ["{reg}"]\n[[registry]]\nlocation = "{reg}"\ninsecure = true\n')
    subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(home)], check=True)
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / "data")}
    repo = Path(__file__).resolve().parents[2]
    try:
        r = subprocess.run(["runuser", "-u", user_without_subids, "--", sys.executable, "-m", "rpod",
                            "pull", "-q", "layered"], env=env, cwd=repo, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == images["layered"].image_id
        assert "single-id user namespace" in r.stderr
        assert f"no subuid range for user {user_without_subids}" in r.stderr
        assert "usermod --add-subuids" in r.stderr
        # files that belonged to uid 1000 in the image belong to the user (container root) now
        layers = home / "data" / "rpod" / "layers"
        owners = {p.stat().st_uid for p in layers.rglob("*") if not p.is_symlink()}
        assert owners == {pw.pw_uid}
        r = subprocess.run(["runuser", "-u", user_without_subids, "--", sys.executable, "-m", "rpod",
                            "info", "--format", "{{.Host.IdMappingMode}}"], env=env, cwd=repo,
                           capture_output=True, text=True)
        assert r.stdout.strip() == "single", r.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)
