"""Specs from ``build_spec`` run for real: crun 1.8.1 (and rpod's own runtime) must accept them, and
the container must see the caps, env, user, cwd, hostname and mounts the flags asked for.

The root file system is the Alpine minirootfs extracted by the test user (so its files belong to
container root through the subuid mapping); the overlay annotation is omitted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rootless.caps import CAP_BITS, CAP_NAMES, last_cap
from rootless.subid import default_mapping
from rpod.container.ocispec import DEFAULT_CAPS, SpecContext, build_spec
from rpod.container.options import RunOptions
from rpod.container.users import layer_lookup
from rpod.network.etcfiles import write_etc_files
from rpod.paths import Paths
from rpod.volume.volumes import VolumeStore, parse_all, resolve_mounts
from tests.support.images import ALPINE_X86_64
from tests.support.leaks import stop_podman

REPO = Path(__file__).resolve().parents[2]
CRUN = shutil.which("crun") or "/usr/bin/crun"
CID = "5eed" + "0" * 56


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ALPINE_X86_64.exists():
        raise AssertionError(f"test image missing: {ALPINE_X86_64}")
    dest = tmp_path_factory.mktemp("alpine-spec") / "rootfs"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(ALPINE_X86_64), "-C", str(dest)], check=True)
    return dest


def run_crun(bundle: Path, state: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([CRUN, "--root", str(state), "run", "--bundle", str(bundle), "t"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if "hybrid mode not supported" in proc.stderr or "cgroup" in proc.stderr and proc.returncode:
        raise AssertionError(f"crun refused the cgroup layout: {proc.stderr}\nas root run: mkdir -p "
                             "/sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb")
    return proc


def run_rpod_runtime(bundle: Path, state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run([sys.executable, "-m", "rootless.runtime", "--root", str(state), "run", "--bundle",
                               str(bundle), "t"], stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                              env=env, timeout=30)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())


RUNTIMES: dict[str, Callable[[Path, Path], subprocess.CompletedProcess]] = {
    "crun": run_crun, "rpod-runtime": run_rpod_runtime}


@pytest.fixture(params=sorted(RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> Callable[[Path, Path], subprocess.CompletedProcess]:
    return RUNTIMES[request.param]


class Runner:
    def __init__(self, tmp: Path, rootfs: Path, runtime: Callable[[Path, Path], subprocess.CompletedProcess]):
        self.tmp, self.rootfs, self.runtime = tmp, rootfs, runtime
        m = default_mapping()
        self.uid_map, self.gid_map = m.uid_map_oci(), m.gid_map_oci()

    def spec(self, opts: RunOptions, image: dict[str, Any] | None = None, **ctx: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"container_id": CID, "rootfs": str(self.rootfs), "name": "spec-test",
                                "uid_mappings": self.uid_map, "gid_mappings": self.gid_map,
                                "passwd_lookup": layer_lookup([self.rootfs])}
        base.update(ctx)
        return build_spec(opts, image or {"config": {"Cmd": ["/bin/sh"]}}, SpecContext(**base))

    def run(self, spec: dict[str, Any], expect_rc: int = 0) -> str:
        bundle = self.tmp / "bundle"
        bundle.mkdir(exist_ok=True)
        (bundle / "config.json").write_text(json.dumps(spec))
        proc = self.runtime(bundle, self.tmp / "state")
        assert proc.returncode == expect_rc, f"rc={proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
        return proc.stdout

    def sh(self, script: str, expect_rc: int = 0, image: dict[str, Any] | None = None, **kw: Any) -> str:
        ctx = kw.pop("ctx", {})
        return self.run(self.spec(RunOptions(image="alpine", command=["/bin/sh", "-c", script], **kw), image, **ctx),
                        expect_rc)


@pytest.fixture
def r(tmp_path: Path, rootfs: Path, runtime: Callable[[Path, Path], subprocess.CompletedProcess]) -> Runner:
    return Runner(tmp_path, rootfs, runtime)


def caps_of(out: str, field: str) -> set[str]:
    line = next(x for x in out.splitlines() if x.startswith(field + ":"))
    mask = int(line.split()[1], 16)
    return {name for name, bit in CAP_BITS.items() if mask >> bit & 1}


def test_default_identity_env_cwd_hostname(r: Runner) -> None:
    out = r.sh("id; pwd; hostname; cat /etc/hostname 2>/dev/null; env; grep -E '^(Cap|Seccomp:)' /proc/self/status",
               env=["FOO=bar baz"], workdir="/tmp", ctx={"hostname_file": None})
    lines = out.splitlines()
    assert lines[0].startswith("uid=0(root) gid=0(root) groups=0(root),1(bin),2(daemon)")
    assert lines[1] == "/tmp"
    assert lines[2] == CID[:12]
    for var in ("FOO=bar baz", "HOME=/root", f"HOSTNAME={CID[:12]}", "container=podman", "TERM=xterm"):
        assert var in lines
    assert caps_of(out, "CapEff") == caps_of(out, "CapBnd") == set(DEFAULT_CAPS)
    assert caps_of(out, "CapInh") == set()
    assert "Seccomp:\t2" in lines


def test_non_root_user_with_cap_add(r: Runner) -> None:
    out = r.sh("id -u; id -g; id -G; grep ^Cap /proc/self/status", user="1000:1000", cap_add=["NET_ADMIN"],
               cap_drop=["CHOWN"], group_add=["wheel"])
    lines = out.splitlines()
    assert lines[:3] == ["1000", "1000", "1000 10"]
    assert caps_of(out, "CapEff") == caps_of(out, "CapAmb") == {"CAP_NET_ADMIN"}
    assert caps_of(out, "CapBnd") == set(DEFAULT_CAPS) - {"CAP_CHOWN"} | {"CAP_NET_ADMIN"}


def test_named_user_from_image(r: Runner) -> None:
    assert r.sh("id; echo $HOME", user="nobody").splitlines() == ["uid=65534(nobody) gid=65534(nobody) "
                                                                  "groups=65534(nobody)", "/"]


def test_privileged_and_unconfined(r: Runner) -> None:
    out = r.sh("grep -E '^(CapEff|Seccomp):' /proc/self/status; wc -c < /proc/keys", privileged=True)
    assert caps_of(out, "CapEff") == set(CAP_NAMES[: last_cap() + 1])
    assert "Seccomp:\t0" in out
    assert out.splitlines()[-1].strip() != "0"  # not masked when privileged
    out = r.sh("grep ^Seccomp: /proc/self/status; wc -c < /proc/keys", security_opt=["seccomp=unconfined"])
    assert "Seccomp:\t0" in out
    assert out.splitlines()[1].strip() == "0"  # still masked (a bind of /dev/null)


def test_no_new_privileges(r: Runner) -> None:
    assert "NoNewPrivs:\t1" in r.sh("grep NoNewPrivs /proc/self/status", security_opt=["no-new-privileges"])
    assert "NoNewPrivs:\t0" in r.sh("grep NoNewPrivs /proc/self/status")


def test_read_only_with_tmpfs(r: Runner) -> None:
    out = r.sh("touch /rofile 2>/dev/null; echo root=$?; touch /tmp/x /run/x /var/tmp/x && echo tmp-ok",
               read_only=True)
    assert out.splitlines() == ["root=1", "tmp-ok"]


def test_etc_files_mounted(r: Runner, tmp_path: Path) -> None:
    files = write_etc_files(tmp_path / "etc", hostname="web1", name="spec-test", network="slirp4netns",
                            add_hosts=["db:10.1.2.3"], dns_search=["example.test"],
                            host_resolv_conf=str(tmp_path / "host-resolv"))
    out = r.sh("cat /etc/hosts; cat /etc/resolv.conf; cat /etc/hostname; hostname", hostname="web1",
               ctx={"hosts_file": str(files.hosts), "resolv_conf_file": str(files.resolv_conf),
                    "hostname_file": str(files.hostname)})
    assert "10.1.2.3\tdb" in out
    assert "10.0.2.100\tweb1 spec-test" in out
    assert "search example.test\nnameserver 10.0.2.3" in out
    assert out.rstrip().splitlines()[-2:] == ["web1", "web1"]


def test_volumes_binds_and_tmpfs(r: Runner, tmp_path: Path) -> None:
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "in.txt").write_text("from host\n")
    store = VolumeStore(Paths(tmp_path / "store", tmp_path / "run"))
    reqs = parse_all(volumes=[f"{host_dir}:/data", f"{host_dir}:/ro-data:ro", "named:/vol", "/anon"],
                     tmpfs=["/scratch:size=1m"])
    mounts, used = resolve_mounts(reqs, store)
    out = r.sh("cat /data/in.txt; echo written > /data/out.txt; touch /ro-data/x 2>/dev/null; echo ro=$?; "
               "echo v > /vol/file; touch /anon/a; grep -E ' /scratch ' /proc/mounts",
               ctx={"mounts": mounts})
    lines = out.splitlines()
    assert lines[0] == "from host"
    assert lines[1] == "ro=1"
    assert "tmpfs" in lines[2] and "size=1024k" in lines[2] and "noexec" in lines[2]
    assert (host_dir / "out.txt").read_text() == "written\n"
    assert (Path(store.get("named").mountpoint) / "file").read_text() == "v\n"
    assert len(used) == 2 and any(v.anonymous for v in used)


def test_init_runs_catatonit_as_pid1(r: Runner) -> None:
    out = r.sh("tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$", init=True)
    first = out.splitlines()[0]
    assert first.startswith("/run/rpod-init -- /bin/sh -c")
    assert out.splitlines()[1] != "1"


def test_limits_sysctl_shm(r: Runner) -> None:
    out = r.sh("ulimit -n; cat /proc/sys/net/ipv4/ping_group_range; grep ' /dev/shm ' /proc/mounts",
               ulimit=["nofile=123:456"], shm_size="8m")
    lines = out.splitlines()
    assert lines[0] == "123"
    assert lines[1].split() == ["0", "0"]
    assert "size=8192k" in lines[2]


def test_entrypoint_and_image_config(r: Runner) -> None:
    image = {"config": {"Entrypoint": ["/bin/echo", "ep"], "Cmd": ["default"], "Env": ["IMG=1"],
                        "WorkingDir": "/etc", "User": "nobody"}}
    spec = r.spec(RunOptions(image="x"), image)
    assert r.run(spec) == "ep default\n"
    spec = r.spec(RunOptions(image="x", command=["given"]), image)
    assert r.run(spec) == "ep given\n"
    spec = r.spec(RunOptions(image="x", entrypoint='["/bin/sh", "-c"]', command=["echo $IMG $(pwd) $(id -u)"]), image)
    assert r.run(spec) == "1 /etc 65534\n"


def test_exit_code_passes_through(r: Runner) -> None:
    r.sh("exit 42", expect_rc=42)


# ------------------------------------------------------------------ differential: Podman 4.3.1
PODMAN = shutil.which("podman") or "/usr/bin/podman"


class Podman:
    """``podman`` with a private store; ``spec(flags)`` returns the config.json it generates."""

    def __init__(self, base: Path):
        self.base = base
        (base / "xdg").mkdir(mode=0o700, parents=True)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(base / "xdg"), "HOME": str(base)}
        # podman refuses a runroot longer than 50 characters (pytest's xdist paths are longer)
        self.runroot = Path(tempfile.mkdtemp(prefix="rpod-pm-"))

    @property
    def argv(self) -> list[str]:
        """``podman`` and the global flags that select this store."""
        return [PODMAN, "--root", str(self.base / "root"), "--runroot", str(self.runroot),
                "--cgroup-manager", "cgroupfs", "--events-backend", "none"]

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"podman {args}: {proc.stderr}"
        return proc.stdout.strip()

    def spec(self, flags: list[str], command: list[str]) -> dict[str, Any]:
        cid = self("create", "--network", "none", *flags, "alpine", *command)
        self("init", cid)
        found = list((self.base / "root").glob(f"*-containers/{cid}/userdata/config.json"))
        assert found, "podman wrote no config.json"
        return json.loads(found[0].read_text())


    def cleanup(self) -> None:
        """Remove the initialised containers (their conmon/crun processes) and Podman's pause process."""
        stop_podman(self.argv, self.env, self.base, self.runroot)
        shutil.rmtree(self.runroot, ignore_errors=True)


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    if not Path(PODMAN).exists():
        raise AssertionError("podman is not installed (apt install podman): the differential tests need it")
    p = Podman(tmp_path_factory.mktemp("podman"))
    try:
        p("import", str(ALPINE_X86_64), "alpine")
        yield p
    finally:
        p.cleanup()


def _caps(spec: dict[str, Any]) -> dict[str, list[str]]:
    caps = spec["process"]["capabilities"]
    return {s: sorted(caps.get(s) or []) for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}


PODMAN_CASES = {
    "default": [],
    "user-cap-add": ["--user", "1000:1000", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"],
    "named-user": ["--user", "nobody"],
    "drop-all": ["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
    "privileged": ["--privileged"],
    "env-workdir-tty": ["-e", "FOO=bar", "-w", "/tmp", "-t", "--hostname", "box"],
    "security": ["--security-opt", "mask=/proc/foo", "--security-opt", "unmask=/proc/kcore",
                 "--security-opt", "no-new-privileges"],
}


@pytest.mark.podman
@pytest.mark.parametrize("case", sorted(PODMAN_CASES))
def test_matches_podman(case: str, podman: Podman, rootfs: Path) -> None:
    """The parts of config.json the user's flags decide are the same as Podman 4.3.1's."""
    flags = PODMAN_CASES[case]
    theirs = podman.spec(flags, ["/bin/sh"])
    opts = _options_from_flags(flags)
    ours = build_spec(opts, {"config": {"Cmd": ["/bin/sh"], "Env": [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}},
        SpecContext(container_id=theirs["hostname"] + "0" * 52, rootfs=str(rootfs),
                    passwd_lookup=layer_lookup([rootfs])))
    assert _caps(ours) == _caps(theirs)
    for key in ("user", "cwd", "args"):
        assert ours["process"].get(key) == theirs["process"].get(key), key
    assert ours["process"]["terminal"] == bool(theirs["process"].get("terminal"))
    assert sorted(ours["process"]["env"]) == sorted(theirs["process"]["env"])
    assert bool(ours["process"]["noNewPrivileges"]) == bool(theirs["process"].get("noNewPrivileges"))
    assert ours["hostname"] == theirs["hostname"]
    assert ours["linux"].get("maskedPaths", []) == theirs["linux"].get("maskedPaths", [])
    assert ours["linux"].get("readonlyPaths", []) == theirs["linux"].get("readonlyPaths", [])
    assert ("seccomp" in ours["linux"]) == ("seccomp" in theirs["linux"])
    assert ours["linux"].get("sysctl") == theirs["linux"].get("sysctl")


def _options_from_flags(flags: list[str]) -> RunOptions:
    """The few flags PODMAN_CASES use, as the CLI would fill RunOptions."""
    opts = RunOptions(image="alpine", command=["/bin/sh"])
    it = iter(flags)
    for f in it:
        if f == "--user":
            opts.user = next(it)
        elif f == "--cap-add":
            opts.cap_add.append(next(it))
        elif f == "--cap-drop":
            opts.cap_drop.append(next(it))
        elif f == "--privileged":
            opts.privileged = True
        elif f == "-e":
            opts.env.append(next(it))
        elif f == "-w":
            opts.workdir = next(it)
        elif f == "-t":
            opts.tty = True
        elif f == "--hostname":
            opts.hostname = next(it)
        elif f == "--security-opt":
            opts.security_opt.append(next(it))
        else:
            raise AssertionError(f"flag {f} not handled by the test")
    return opts
