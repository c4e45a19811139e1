"""rootless.runtime end to end, as the unprivileged test user, on a real Alpine rootfs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rootless import caps
from rootless.runtime.spec import rootless_spec

REPO = Path(__file__).resolve().parents[2]
ALPINE = Path("/work/shared/images/alpine-3.20.3/alpine-minirootfs-3.20.3-x86_64.tar.gz")


@pytest.fixture(scope="session")
def alpine_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Alpine minirootfs, extracted once as the test user (shared read-only by every bundle)."""
    return extract_alpine(tmp_path_factory.mktemp("alpine") / "rootfs")


def extract_alpine(dest: Path) -> Path:
    if not ALPINE.exists():
        raise AssertionError(f"test image missing: {ALPINE}")
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(ALPINE), "-C", str(dest)], check=True)
    return dest


def make_bundle(path: Path, rootfs: Path, args: list[str], **changes) -> dict:
    """Write ``path/config.json`` (rootless spec with ``args``); return the config for tweaking."""
    path.mkdir(parents=True, exist_ok=True)
    config = rootless_spec(args, rootfs=str(rootfs))
    for key, value in changes.items():
        config[key] = value
    write_config(path, config)
    return config


def write_config(path: Path, config: dict) -> None:
    (path / "config.json").write_text(json.dumps(config, indent=1))


class Runtime:
    """``python -m rootless.runtime --root STATE`` as a subprocess."""

    argv0 = [sys.executable, "-m", "rootless.runtime"]

    def __init__(self, state_root: Path):
        self.state_root = state_root

    def __call__(self, *args: str, bundle: Path | None = None, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        # files, not pipes: a created or detached container keeps the runtime's stdio open
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run([*self.argv0, "--root", str(self.state_root), *args], cwd=bundle, env=env,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, timeout=timeout, **kw)
            out.seek(0)
            err.seek(0)
            proc.stdout, proc.stderr = out.read(), err.read()
        return proc

    def run(self, bundle: Path, cid: str = "c1") -> subprocess.CompletedProcess:
        return self("run", "--bundle", str(bundle), cid)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(tmp_path / "state")
    yield runtime
    # a failed test must not leave containers running (they would eat the CI's CPU)
    if runtime.state_root.is_dir():
        for entry in runtime.state_root.iterdir():
            if entry.is_dir():
                runtime("delete", "--force", entry.name, timeout=10)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return tmp_path / "bundle"


def run_cmd(rt: Runtime, bundle: Path, rootfs: Path, args: list[str], **changes) -> subprocess.CompletedProcess:
    make_bundle(bundle, rootfs, args, **changes)
    return rt.run(bundle)


def test_echo(rt, bundle, alpine_rootfs):
    res = run_cmd(rt, bundle, alpine_rootfs, ["echo", "hello"])
    assert (res.returncode, res.stdout) == (0, "hello\n"), res.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["sh", "-c", "exit 7"], 7, ""),
    (["nosuchcommand"], 127, "executable file `nosuchcommand` not found in $PATH"),
    (["/etc"], 126, "/etc"),
])
def test_exit_codes(rt, bundle, alpine_rootfs, args, code, message):
    res = run_cmd(rt, bundle, alpine_rootfs, args)
    assert res.returncode == code, res.stderr
    assert message in res.stderr


def test_identity_and_namespaces(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c", "id; cat /proc/self/uid_map; hostname; ps -o pid,comm; true"])
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "uid=0(root) gid=0(root) groups=0(root)" or lines[0].startswith("uid=0(root) gid=0(root)")
    maps = [tuple(map(int, line.split())) for line in lines[1:1 + len(config["linux"]["uidMappings"])]]
    assert maps == [(m["containerID"], m["hostID"], m["size"]) for m in config["linux"]["uidMappings"]]
    assert "rpod" in lines
    ps = [line.split() for line in lines[lines.index("PID   COMMAND") + 1:]]
    assert [p[1] for p in ps] == ["sh", "ps"] and ps[0][0] == "1", res.stdout


def test_capabilities_match_config(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["grep", "^Cap", "/proc/self/status"])
    wanted = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"]
    config["process"]["capabilities"] = {"bounding": wanted, "effective": wanted[:2], "permitted": wanted,
                                         "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    status = dict(line.split(":\t") for line in res.stdout.splitlines())
    assert int(status["CapBnd"], 16) == caps.to_mask(wanted)
    # uid 0 execs with every bounding capability effective (no securebits), whatever "effective" says
    assert int(status["CapEff"], 16) == caps.to_mask(wanted)
    assert int(status["CapPrm"], 16) == caps.to_mask(wanted)
    assert int(status["CapInh"], 16) == caps.to_mask(["CAP_KILL"])
    assert int(status["CapAmb"], 16) == caps.to_mask(["CAP_KILL"])


def test_non_root_user_keeps_ambient_caps(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c", "id -u; id -G; grep ^CapEff /proc/self/status; umask"])
    config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}
    c = ["CAP_NET_BIND_SERVICE"]
    config["process"]["capabilities"] = {"bounding": c, "effective": c, "permitted": c, "inheritable": c, "ambient": c}
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0] == "1000"
    assert sorted(lines[1].split()) == ["10", "1000", "20"]
    assert int(lines[2].split()[1], 16) == caps.to_mask(c)
    assert lines[3] == "0027"


def test_masked_and_readonly_paths(rt, bundle, alpine_rootfs):
    res = run_cmd(rt, bundle, alpine_rootfs, ["sh", "-c",
        "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/hostname && echo writable; "
        "touch /rootfile && echo writable-root; true"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0", "0"]
    assert "Read-only file system" in res.stderr


def test_bind_mounts_ro_and_rw(rt, bundle, alpine_rootfs, tmp_path):
    ro_dir, rw_dir = tmp_path / "ro", tmp_path / "rw"
    ro_dir.mkdir()
    rw_dir.mkdir()
    (ro_dir / "data").write_text("from host\n")
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c",
        "cat /ro/data; touch /ro/new || echo ro-denied; echo written > /rw/out; grep ' /ro ' /proc/self/mountinfo"])
    config["mounts"] += [
        {"destination": "/ro", "type": "bind", "source": str(ro_dir), "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/rw", "type": "bind", "source": str(rw_dir), "options": ["bind", "rprivate"]},
    ]
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:2] == ["from host", "ro-denied"]
    assert " ro,nosuid" in res.stdout.splitlines()[2]
    assert (rw_dir / "out").read_text() == "written\n"
    assert not (ro_dir / "new").exists()


def test_tmpfs_copy_up_then_read_only(rt, bundle, alpine_rootfs):
    """``tmpcopyup`` (crun's option, Podman's default for tmpfs): the tmpfs starts with the covered
    directory's tree, modes kept; ``ro`` applies once it is copied; ``notmpcopyup`` starts empty."""
    apk = alpine_rootfs / "etc" / "apk"
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c",
        "grep -c ' /etc/apk ro,.* - tmpfs ' /proc/self/mountinfo; cat /etc/apk/world; ls /etc/apk/keys | wc -l; "
        "stat -c %a /etc/apk/keys; touch /etc/apk/x 2>/dev/null || echo ro-denied; ls -A /opt | wc -l"])
    config["mounts"] += [
        {"destination": "/etc/apk", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro", "nosuid"]},
        {"destination": "/opt", "type": "tmpfs", "source": "tmpfs", "options": ["notmpcopyup"]},
    ]
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n") == [
        "1", *(apk / "world").read_text().splitlines(), str(len(os.listdir(apk / "keys"))),
        f"{(apk / 'keys').stat().st_mode & 0o7777:o}", "ro-denied", "0", ""]


def test_rlimits(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c", "ulimit -n; ulimit -Hn"])
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.stdout.split() == ["321", "654"], res.stderr


def test_seccomp_denies_mkdir(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c", "mkdir /tmp/x && echo made; touch /tmp/f && echo touched"])
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    assert "Operation not permitted" in res.stderr
    assert res.stdout.split() == ["touched"]


def test_seccomp_without_no_new_privileges(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["sh", "-c", "grep NoNewPrivs /proc/self/status; "
                                                 "grep Seccomp: /proc/self/status; uname -n"])
    config["process"]["noNewPrivileges"] = False
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]}
    write_config(bundle, config)
    res = rt.run(bundle)
    assert "NoNewPrivs:\t0" in res.stdout and "Seccomp:\t2" in res.stdout, res.stderr
    assert res.returncode != 0 or "rpod" not in res.stdout


def test_hooks_get_state_on_stdin(rt, bundle, alpine_rootfs, tmp_path):
    out = tmp_path / "hooks"
    out.mkdir()
    config = make_bundle(bundle, alpine_rootfs, ["true"])
    config["hooks"] = {
        kind: [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/{kind}.json"]}]
        for kind in ("createRuntime", "poststart", "poststop")
    }
    write_config(bundle, config)
    res = rt.run(bundle, "hooked")
    assert res.returncode == 0, res.stderr
    for kind in ("createRuntime", "poststart", "poststop"):
        st = json.loads((out / f"{kind}.json").read_text())
        assert st["id"] == "hooked" and st["bundle"] == str(bundle)
    assert json.loads((out / "createRuntime.json").read_text())["pid"] > 0


def test_failing_hook_fails_create(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["true"])
    config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    write_config(bundle, config)
    res = rt("create", "--bundle", str(bundle), "h1")
    assert res.returncode == 1
    assert "createRuntime hook /bin/false failed" in res.stderr
    assert rt("state", "h1").returncode != 0


def wait_status(rt: Runtime, cid: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        res = rt("state", cid)
        st = json.loads(res.stdout) if res.returncode == 0 else {"status": "absent", "error": res.stderr}
        if st["status"] == status or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def test_lifecycle(rt, bundle, alpine_rootfs, tmp_path):
    make_bundle(bundle, alpine_rootfs, ["sleep", "60"])
    pid_file = tmp_path / "pid"
    res = rt("create", "--bundle", str(bundle), "--pid-file", str(pid_file), "life")
    assert res.returncode == 0, res.stderr
    st = json.loads(rt("state", "life").stdout)
    assert st["status"] == "created" and st["pid"] == int(pid_file.read_text()) and st["id"] == "life"
    assert st["bundle"] == str(bundle) and st["ociVersion"]
    assert rt("create", "--bundle", str(bundle), "life").returncode == 1  # already exists
    assert "life" in rt("list").stdout
    assert rt("start", "life").returncode == 0
    assert json.loads(rt("state", "life").stdout)["status"] == "running"
    assert rt("start", "life").returncode == 1
    assert rt("delete", "life").returncode == 1  # running
    assert rt("kill", "life", "KILL").returncode == 0
    assert wait_status(rt, "life", "stopped")["status"] == "stopped"
    assert rt("kill", "life").returncode == 1
    assert rt("delete", "life").returncode == 0
    assert rt("state", "life").returncode == 1


def test_delete_force_and_created(rt, bundle, alpine_rootfs):
    make_bundle(bundle, alpine_rootfs, ["sleep", "60"])
    assert rt("create", "--bundle", str(bundle), "d1").returncode == 0
    pid = json.loads(rt("state", "d1").stdout)["pid"]
    assert rt("delete", "d1").returncode == 0  # a created container is killed, like runc
    assert rt("run", "--detach", "--bundle", str(bundle), "d2").returncode == 0
    pid2 = json.loads(rt("state", "d2").stdout)["pid"]
    res = rt("delete", "--force", "d2")
    assert res.returncode == 0, res.stderr
    for p in (pid, pid2):
        assert not Path(f"/proc/{p}").exists() or "Z" in Path(f"/proc/{p}/stat").read_text().split(")")[1][:3]


def test_run_killed_exits_128_plus_signal(rt, bundle, alpine_rootfs):
    make_bundle(bundle, alpine_rootfs, ["sleep", "60"])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*Runtime.argv0, "--root", str(rt.state_root), "run", "--bundle", str(bundle), "k1"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_status(rt, "k1", "running")["status"] == "running"
        assert rt("kill", "k1", "9").returncode == 0
        assert proc.wait(10) == 137
    finally:
        proc.kill()
        proc.wait()


def test_exec(rt, bundle, alpine_rootfs, tmp_path):
    make_bundle(bundle, alpine_rootfs, ["sleep", "60"])
    assert rt("run", "--detach", "--bundle", str(bundle), "e1").returncode == 0
    try:
        res = rt("exec", "e1", "sh", "-c", "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split("\n")[:1] == ["rpod"]
        assert res.stdout.split("\n")[2].startswith("sleep 60")
        assert rt("exec", "e1", "sh", "-c", "exit 3").returncode == 3
        missing = rt("exec", "e1", "nosuch")
        assert missing.returncode == 127 and "not found" in missing.stderr
        proc_json = tmp_path / "process.json"
        proc_json.write_text(json.dumps({"args": ["id", "-u"], "cwd": "/", "user": {"uid": 5, "gid": 5},
                                         "env": ["PATH=/bin:/usr/bin"]}))
        res = rt("exec", "--process", str(proc_json), "e1")
        assert res.stdout == "5\n", res.stderr
    finally:
        rt("delete", "--force", "e1")


def test_terminal_via_console_socket(rt, bundle, alpine_rootfs, tmp_path):
    config = make_bundle(bundle, alpine_rootfs, ["sh"])
    config["process"]["terminal"] = True
    write_config(bundle, config)
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(10)
    try:
        res = rt("create", "--bundle", str(bundle), "--console-socket", sock_path, "tty1")
        assert res.returncode == 0, res.stderr
        conn, _ = server.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        master = fds[0]
        assert os.isatty(master)
        assert rt("start", "tty1").returncode == 0
        os.write(master, b"tty; echo hi-$((6*7))\nexit 5\n")
        out = b""
        deadline = time.monotonic() + 60
        while b"hi-42" not in out and time.monotonic() < deadline:
            out += os.read(master, 4096)
        assert b"hi-42" in out
        assert b"/dev/pts/0" in out
        assert wait_status(rt, "tty1", "stopped")["status"] == "stopped"
        os.close(master)
    finally:
        server.close()
        rt("delete", "--force", "tty1")


def test_no_user_namespace_is_refused_when_unprivileged(rt, bundle, alpine_rootfs):
    config = make_bundle(bundle, alpine_rootfs, ["true"])
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "user"]
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 1
    assert "no user namespace and the runtime is not root" in res.stderr


def test_resources_warning_and_log_file(rt, bundle, alpine_rootfs, tmp_path):
    config = make_bundle(bundle, alpine_rootfs, ["true"])
    config["linux"]["resources"] = {"memory": {"limit": 1 << 28}}
    write_config(bundle, config)
    log = tmp_path / "log.json"
    res = rt("--log", str(log), "--log-format", "json", "run", "--bundle", str(bundle), "w1")
    assert res.returncode == 0
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["level"] == "warning" and "not enforced" in entry["msg"]


def test_in_process_api_with_subreaper(bundle, alpine_rootfs, tmp_path):
    """The monitor's use: api.create in-process makes the caller the parent of the container's pid 1."""
    make_bundle(bundle, alpine_rootfs, ["sh", "-c", "echo out; exit 4"])
    script = f"""
import os, sys
from rootless.runtime import api
api.become_subreaper()
r, w = os.pipe()
pid = api.create("api1", {str(bundle)!r}, {str(tmp_path / 'st')!r}, stdio=(None, w, None))
os.close(w)
assert os.waitpid(-1, os.WNOHANG) == (0, 0)  # the init is our child now and still waiting
api.start("api1", {str(tmp_path / 'st')!r})
print(api.wait_status(pid), os.read(r, 100).decode().strip())
api.delete("api1", {str(tmp_path / 'st')!r})
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.stdout.split() == ["4", "out"], res.stderr


def test_run_true_is_fast(rt, bundle, alpine_rootfs):
    make_bundle(bundle, alpine_rootfs, ["true"])
    rt.run(bundle, "warm")
    t0 = time.monotonic()
    for i in range(3):
        assert rt.run(bundle, f"fast{i}").returncode == 0
    per_run = (time.monotonic() - t0) / 3
    assert per_run < 0.5, f"run true took {per_run:.3f}s"


def test_signal_forwarding(rt, bundle, alpine_rootfs):
    make_bundle(bundle, alpine_rootfs, ["sh", "-c", "trap 'exit 42' TERM; echo trapped; while :; do sleep 0.1; done"])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*Runtime.argv0, "--root", str(rt.state_root), "run", "--bundle", str(bundle), "f1"],
                            env=env, stdout=subprocess.PIPE)
    try:
        assert wait_status(rt, "f1", "running")["status"] == "running"
        import select

        assert select.select([proc.stdout], [], [], 60)[0], "the trap was never set"
        assert proc.stdout.readline() == b"trapped\n"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 42
    finally:
        proc.kill()
        proc.wait()




def test_overlay_annotation_mounts_rootfs(rt, bundle, alpine_rootfs, tmp_path):
    """``run.rpod.overlay``: the runtime mounts the overlay on root.path inside the container's mount ns."""
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    config = make_bundle(bundle, merged, ["sh", "-c", "echo new > /created; cat /etc/alpine-release"])
    config["root"]["readonly"] = False
    config["annotations"] = {"run.rpod.overlay": json.dumps(
        {"lowerdir": [str(alpine_rootfs)], "upperdir": str(upper), "workdir": str(work), "driver": "kernel"})}
    write_config(bundle, config)
    res = rt.run(bundle)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("3.20")
    assert (upper / "created").read_text() == "new\n"
    assert not (alpine_rootfs / "created").exists()
    assert os.listdir(merged) == []  # the overlay lived only in the container's mount namespace
