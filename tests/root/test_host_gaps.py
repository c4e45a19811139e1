"""Root-only suite: each gap between this host and a stock systemd/udev Debian, made real in a
private mount (or user) namespace so the other engineers' test runs never see it, then rpod run
as the unprivileged CI user inside it.  rpod must name the failure and the exact fix, exit 125.

- ``/dev/net/tun`` / ``/dev/fuse`` mode 0600: a 0600 node made on a private tmpfs is bind-mounted
  over the real one (the real node keeps its 0666).
- cgroup2 holding a controller in a hybrid layout (crun 1.8.1 refuses it): a file that lists
  ``hugetlb`` is bind-mounted over ``/sys/fs/cgroup/unified/cgroup.controllers``, which is the very
  file crun reads to decide.
- user namespaces disabled: ``user.max_user_namespaces=0`` set inside a child user namespace that
  maps every id to itself (the sysctl is per user namespace; the host's stays as it is).
- newuidmap without its setuid bit: a 0755 copy bind-mounted over ``/usr/bin/newuidmap``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.images import ImageSet

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
USER = os.environ.get("RPOD_CI_USER", "rpodci")


@dataclass
class UserEnv:
    user: str
    home: Path
    env: dict[str, str]

    def run(self, *args: str, setup: str = "", userns_limit: bool = False,
            timeout: int = 120) -> subprocess.CompletedProcess:
        """``rpod ARGS`` as the user, in a private mount namespace prepared by the shell ``setup``."""
        inner = " ".join(shlex.quote(a) for a in ["runuser", "-u", self.user, "--", sys.executable, "-m", "rpod",
                                                  *args])
        script = f"set -e\n{setup}\nexec {inner}"
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
        if userns_limit:
            return _in_limited_userns(argv, self.env, timeout)
        return subprocess.run(argv, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _in_limited_userns(argv: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    """``argv`` in a user namespace that maps every id to itself and allows no further user
    namespace (``user.max_user_namespaces`` is per user namespace: the host's stays as it is)."""
    with tempfile.TemporaryDirectory() as d:
        script = (f'while [ ! -e {d}/go ]; do sleep 0.02; done; '
                  # exec again: the first shell started before the map existed, so without capabilities
                  'exec sh -c \'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"\' sh "$@"')
        proc = subprocess.Popen(["unshare", "-U", "--", "sh", "-c", script, "sh", *argv], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pid = proc.pid
        deadline = time.monotonic() + 60
        while os.readlink(f"/proc/{pid}/ns/user") == os.readlink("/proc/self/ns/user"):
            assert time.monotonic() < deadline, "unshare -U did not create a user namespace"
            time.sleep(0.01)
        for f in ("uid_map", "gid_map"):
            Path(f"/proc/{pid}/{f}").write_text("0 0 4294967295\n")
        Path(d, "go").touch()
        out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.fixture(scope="module")
def ci_user(images: ImageSet) -> Iterator[UserEnv]:
    if os.getuid() != 0:
        pytest.fail("the root suite must run as root (.ci/run runs it with -m root)")
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        pytest.fail(f"user {USER} is missing: .ci/run creates it (with a subuid range) before the root suite")
    home = Path(tempfile.mkdtemp(prefix="rpod-gaps-"))
    conf = home / ".config" / "containers"
    conf.mkdir(parents=True)
    reg = images.registry.address
    (conf / "registries.conf").write_text(
        f'unqualified-search-registries = ["{reg}"]\n[[registry]]\nlocation = "{reg}"\ninsecure = true\n')
    runtime_dir = home / "run"
    runtime_dir.mkdir(mode=0o700)
    subprocess.run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(home)], check=True)
    os.chmod(home, 0o755)
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "RPOD_HINTS": "1",
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_RUNTIME_DIR": str(runtime_dir)}
    u = UserEnv(USER, home, env)
    r = u.run("pull", "-q", "alpine")
    assert r.returncode == 0, r.stderr
    yield u
    u.run("rm", "-af")
    subprocess.run(["runuser", "-u", USER, "--", sys.executable, "-m", "rpod", "unshare", "rm", "-rf",
                    str(home / "data")], env=env, cwd=REPO, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def private_node(target: str, major: int, minor: int) -> str:
    """Shell that bind-mounts a 0600 character device ``major:minor`` over ``target``."""
    return (f"d=$(mktemp -d); mount -t tmpfs -o mode=0755 none \"$d\"; mknod -m 0600 \"$d/node\" c {major} {minor}; "
            f"mount --bind \"$d/node\" {target}")


def assert_host_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    hints = [ln for ln in lines if ln.startswith("Hint: ")]
    assert len(errors) == 1, r.stderr
    assert hints, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_tun_0600_fails_before_the_container_starts(ci_user: UserEnv) -> None:
    r = ci_user.run("run", "--rm", "alpine", "true", setup=private_node("/dev/net/tun", 10, 200))
    assert_host_error(r, "/dev/net/tun", "chmod 0666 /dev/net/tun", "--network none")
    # nothing was left behind: the check ran before the container was created
    r = ci_user.run("ps", "-aq")
    assert r.stdout.strip() == "", r.stdout


def test_tun_0600_is_a_warning_in_info(ci_user: UserEnv) -> None:
    r = ci_user.run("info", "--format", "{{json .Host.Warnings}}", setup=private_node("/dev/net/tun", 10, 200))
    assert r.returncode == 0, r.stderr
    assert "/dev/net/tun" in r.stdout and "chmod 0666 /dev/net/tun" in r.stdout, r.stdout


def test_tun_0600_does_not_matter_without_a_network(ci_user: UserEnv) -> None:
    r = ci_user.run("run", "--rm", "--network", "none", "alpine", "echo", "ok",
                    setup=private_node("/dev/net/tun", 10, 200))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_fuse_0600_with_the_fuse_driver(ci_user: UserEnv) -> None:
    r = ci_user.run("run", "--rm", "--network", "none", "alpine", "true",
                    setup="export RPOD_OVERLAY_DRIVER=fuse; " + private_node("/dev/fuse", 10, 229))
    assert_host_error(r, "/dev/fuse", "chmod 0666 /dev/fuse")


def test_crun_refuses_cgroup2_controllers_in_hybrid_mode(ci_user: UserEnv) -> None:
    controllers = "/sys/fs/cgroup/unified/cgroup.controllers"
    if not os.path.exists(controllers):
        # a pure cgroup v2 (or v1) host: the gap cannot exist, and info must not claim it
        r = ci_user.run("info", "--format", "{{json .Host.Warnings}}")
        assert r.returncode == 0 and "hybrid" not in r.stdout, (r.stdout, r.stderr)
        return
    setup = f"f=$(mktemp); echo hugetlb > \"$f\"; chmod 0644 \"$f\"; mount --bind \"$f\" {controllers}"
    r = ci_user.run("run", "--rm", "--network", "none", "--runtime", "crun", "alpine", "true", setup=setup)
    assert_host_error(r, "crun", "hugetlb", "mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb")
    r = ci_user.run("ps", "-aq")
    assert r.stdout.strip() == "", r.stdout
    r = ci_user.run("info", "--format", "{{json .Host.Warnings}}", setup=setup)
    assert "hugetlb" in r.stdout, r.stdout
    # rpod's own runtime does not care
    r = ci_user.run("run", "--rm", "--network", "none", "alpine", "echo", "ok", setup=setup)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_user_namespaces_disabled(ci_user: UserEnv) -> None:
    r = ci_user.run("run", "--rm", "--network", "none", "alpine", "true", userns_limit=True)
    assert_host_error(r, "user namespace", "user.max_user_namespaces", "sysctl -w user.max_user_namespaces=")
    r = ci_user.run("info", "--format", "{{json .Host.Warnings}}", userns_limit=True)
    assert "user.max_user_namespaces" in r.stdout, (r.stdout, r.stderr)


def test_newuidmap_without_setuid(ci_user: UserEnv) -> None:
    setup = ("d=$(mktemp -d); mount -t tmpfs none \"$d\"; cp /usr/bin/newuidmap \"$d/\"; chmod 0755 \"$d/newuidmap\"; "
             "mount --bind \"$d/newuidmap\" /usr/bin/newuidmap")
    r = ci_user.run("run", "--rm", "--network", "none", "alpine", "true", setup=setup)
    assert_host_error(r, "newuidmap", "setuid", "apt-get install --reinstall uidmap")
    r = ci_user.run("info", "--format", "{{json .Host.Warnings}}", setup=setup)
    assert "newuidmap" in r.stdout, r.stdout


def hidden_binary(name: str) -> str:
    """Shell that makes ``/usr/bin/NAME`` a non-executable empty file (as if not installed)."""
    return (f"d=$(mktemp -d); mount -t tmpfs none \"$d\"; touch \"$d/{name}\"; chmod 0644 \"$d/{name}\"; "
            f"mount --bind \"$d/{name}\" /usr/bin/{name}")


@pytest.mark.parametrize(("binary", "argv", "package"), [
    ("slirp4netns", ["run", "--rm", "alpine", "true"], "slirp4netns"),
    ("pasta", ["run", "--rm", "--network", "pasta", "alpine", "true"], "passt"),
    ("catatonit", ["run", "--rm", "--network", "none", "--init", "alpine", "true"], "catatonit"),
    ("crun", ["run", "--rm", "--network", "none", "--runtime", "crun", "alpine", "true"], "crun"),
    ("newuidmap", ["run", "--rm", "--network", "none", "alpine", "true"], "uidmap"),
])
def test_missing_binary_names_its_debian_package(ci_user: UserEnv, binary: str, argv: list[str],
                                                  package: str) -> None:
    if not os.path.exists(f"/usr/bin/{binary}"):
        pytest.fail(f"/usr/bin/{binary} is missing on this host: apt-get install {package}")
    r = ci_user.run(*argv, setup=hidden_binary(binary))
    assert_host_error(r, binary, f"apt-get install {package}")
    assert ci_user.run("ps", "-aq").stdout.strip() == ""


def test_fallback_runtime_dir_is_silent(ci_user: UserEnv) -> None:
    """XDG_RUNTIME_DIR unset, or not the user's (``su``, cron): /tmp/rpod-run-UID, without a word."""
    uid = pwd.getpwnam(ci_user.user).pw_uid
    for setup in ("unset XDG_RUNTIME_DIR", "export XDG_RUNTIME_DIR=/run"):
        r = ci_user.run("info", "--format", "{{.Store.RunRoot}}", setup=setup)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert r.stdout.strip() == f"/tmp/rpod-run-{uid}"
        r = ci_user.run("run", "--rm", "--network", "none", "alpine", "echo", "ok", setup=setup)
        assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")
