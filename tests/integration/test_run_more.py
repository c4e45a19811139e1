"""``rpod run`` volumes (copy-up, nocopy, :U, :ro, anonymous, volume rm) and resource flags, on real containers."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def volumes_dir(env: RpodEnv) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "rpod" / "volumes"


def test_named_volume_copy_up_keeps_content_and_owner(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "-v", "homevol:/home/user", "layered",
                    "sh", "-c", "cat /home/user/.profile; stat -c %u:%g /home/user/.profile"))
    assert r.stdout == "export PS1='$ '\n1000:1000\n"
    # the copy happens once: a later change in the volume survives the next run
    ok(run_rpod(env, "run", "--rm", "-v", "homevol:/home/user", "layered", "rm", "/home/user/.profile"))
    r = ok(run_rpod(env, "run", "--rm", "-v", "homevol:/home/user", "layered", "ls", "-A", "/home/user"))
    assert r.stdout == ""
    info = json.loads(ok(run_rpod(env, "volume", "inspect", "homevol")).stdout)[0]
    assert info["NeedsCopyUp"] is False


def test_named_volume_nocopy_stays_empty(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "-v", "empty:/home/user:nocopy", "layered", "ls", "-A", "/home/user"))
    assert r.stdout == ""
    # nocopy marks the volume used: it is not filled later either
    r = ok(run_rpod(env, "run", "--rm", "-v", "empty:/home/user", "layered", "ls", "-A", "/home/user"))
    assert r.stdout == ""


def test_chown_option_gives_the_source_to_the_container_user(env: RpodEnv, tmp_path: Path) -> None:
    src = tmp_path / "owned"
    src.mkdir()
    (src / "f").write_text("x")
    src.chmod(0o777)
    r = ok(run_rpod(env, "run", "--rm", "--user", "1000:1000", "-v", f"{src}:/data:U", "alpine",
                    "sh", "-c", "stat -c %u:%g /data /data/f && touch /data/new && echo wrote"))
    assert r.stdout == "1000:1000\n1000:1000\nwrote\n"
    # on the host the files now belong to a subordinate id, not to the user
    assert src.stat().st_uid != tmp_path.stat().st_uid


def test_bind_read_only_refuses_writes(env: RpodEnv, tmp_path: Path) -> None:
    src = tmp_path / "ro"
    src.mkdir()
    (src / "f").write_text("keep\n")
    r = run_rpod(env, "run", "--rm", "-v", f"{src}:/ro:ro", "alpine", "sh", "-c", "cat /ro/f; echo no > /ro/f")
    assert r.returncode != 0
    assert r.stdout == "keep\n"
    assert "Read-only file system" in r.stderr, r.stderr
    assert (src / "f").read_text() == "keep\n"


def test_anonymous_volume_is_created_and_removed_by_rm_v(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "anon", "-v", "/data", "alpine", "sh", "-c", "echo hi > /data/f"))
    names = ok(run_rpod(env, "volume", "ls", "-q")).stdout.split()
    assert len(names) == 1 and len(names[0]) == 64
    assert (volumes_dir(env) / names[0] / "_data" / "f").read_text() == "hi\n"
    ok(run_rpod(env, "rm", "-v", "anon"))
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""


def test_rm_without_v_keeps_anonymous_volume_and_run_rm_removes_it(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "keep", "-v", "/data", "alpine", "true"))
    ok(run_rpod(env, "rm", "keep"))
    assert len(ok(run_rpod(env, "volume", "ls", "-q")).stdout.split()) == 1
    ok(run_rpod(env, "volume", "prune", "-f"))
    ok(run_rpod(env, "run", "--rm", "-v", "/data", "alpine", "true"))
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""


def test_volume_rm_refuses_a_used_volume_and_force_removes_container(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "user1", "-v", "busy:/data", "alpine", "true"))
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "user1")).stdout.strip()
    r = run_rpod(env, "volume", "rm", "busy")
    assert r.returncode != 0
    assert "volume is being used" in r.stderr and cid in r.stderr, r.stderr
    ok(run_rpod(env, "volume", "rm", "-f", "busy"))
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""


@pytest.mark.parametrize(("flag", "field", "value"), [
    (["--memory", "64m"], "Memory", 64 * 1024 * 1024),
    (["--cpus", "0.5"], "NanoCpus", 500_000_000),
    (["--pids-limit", "50"], "PidsLimit", 50),
])
def test_resource_flags_warn_once_and_run(env: RpodEnv, flag: list[str], field: str, value: int) -> None:
    r = run_rpod(env, "run", "--name", "lim", *flag, "alpine", "echo", "ran")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ran\n"
    warnings = [line for line in r.stderr.splitlines() if "resource limits" in line.lower()]
    assert len(warnings) == 1 and not warnings[0].startswith(("WARN", "time=")), r.stderr  # plain, as Podman
    if Path("/sys/fs/cgroup/cgroup.controllers").exists() is False:  # cgroup v1/hybrid: Podman's exact line
        assert warnings[0] == "Resource limits are not supported and ignored on cgroups V1 rootless systems"
    assert "Hint:" not in r.stderr  # the fix is for a terminal, not a pipe
    host = json.loads(ok(run_rpod(env, "inspect", "lim")).stdout)[0]["HostConfig"]
    assert host[field] == value
    assert host["ResourceLimitsApplied"] is False
    assert "not" in host["ResourceLimitsNote"]


def test_no_resource_flags_no_warning(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--name", "plain", "alpine", "true"))
    assert "WARN" not in r.stderr and "level=warning" not in r.stderr
    host = json.loads(ok(run_rpod(env, "inspect", "plain")).stdout)[0]["HostConfig"]
    assert host["Memory"] == 0 and host["ResourceLimitsNote"] == ""


def test_runtime_crun_prints_the_same_as_the_default(env: RpodEnv) -> None:
    script = "id; hostname -s >/dev/null && cat /etc/alpine-release >/dev/null && echo ok; ls /proc/self/ns/user"
    default = ok(run_rpod(env, "run", "--rm", "alpine", "sh", "-c", script))
    crun = ok(run_rpod(env, "run", "--rm", "--runtime", "crun", "alpine", "sh", "-c", script))
    assert crun.stdout == default.stdout
    assert default.stdout.startswith("uid=0(root) gid=0(root)")
    path = ok(run_rpod(env, "run", "--rm", "--runtime", "/usr/bin/crun", "alpine", "id"))
    assert path.stdout == ok(run_rpod(env, "run", "--rm", "alpine", "id")).stdout


def test_runtime_crun_detached_stop_and_rm(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "cd", "--runtime", "crun", "alpine", "sleep", "60"))
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "cd")).stdout == "running\n"
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "cd")).stdout.strip()
    rt = env.runtime_dir / "rpod"
    # crun ran: the config variant without the user namespace, and crun's own state (seccomp.bpf)
    config = json.loads((rt / "containers" / cid / "config.runtime.json").read_text())
    assert "user" not in [ns["type"] for ns in config["linux"]["namespaces"]]
    assert "uidMappings" not in config["linux"]
    assert (rt / "runtime" / cid / "seccomp.bpf").is_file()
    ok(run_rpod(env, "stop", "-t", "0", "cd"))
    ok(run_rpod(env, "rm", "cd"))


def test_runtime_unknown_fails(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--rm", "--runtime", "no-such-runtime", "alpine", "true")
    assert r.returncode == 125
    assert "no-such-runtime" in r.stderr


def test_runtime_crun_exec_and_volume(env: RpodEnv, tmp_path: Path) -> None:
    src = tmp_path / "shared"
    src.mkdir()
    (src / "f").write_text("host\n")
    ok(run_rpod(env, "run", "-d", "--name", "ce", "--runtime", "crun", "-v", f"{src}:/shared:ro",
                "-v", "cvol:/home/user", "layered", "sleep", "60"))
    r = ok(run_rpod(env, "exec", "ce", "sh", "-c", "cat /shared/f /home/user/.profile; id -u"))
    assert r.stdout == "host\nexport PS1='$ '\n0\n"
    assert run_rpod(env, "exec", "ce", "sh", "-c", "exit 3").returncode == 3
    ok(run_rpod(env, "exec", "-d", "ce", "touch", "/tmp/detached"))
    assert ok(run_rpod(env, "exec", "ce", "sh", "-c", "sleep 0.2; ls /tmp/detached")).stdout == "/tmp/detached\n"
    ok(run_rpod(env, "rm", "-f", "-t", "0", "ce"))


def test_runtime_crun_with_a_terminal(env: RpodEnv) -> None:
    master, slave = pty.openpty()
    out = b""
    try:
        proc = subprocess.run([sys.executable, "-m", "rpod", "run", "--rm", "-t", "--runtime", "crun", "alpine",
                               "sh", "-c", "tty; exit 4"], env=env, stdin=slave, stdout=slave, stderr=slave,
                              timeout=30, check=False)
        while select.select([master], [], [], 0.2)[0]:
            out += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 4, out
    assert b"/dev/pts/0" in out, out


@pytest.mark.parametrize(("cmd", "code"), [(["sh", "-c", "exit 7"], 7), (["no-such-command"], 127)])
def test_runtime_crun_exit_codes_and_inspect(env: RpodEnv, cmd: list[str], code: int) -> None:
    r = run_rpod(env, "run", "--name", "codes", "--runtime", "crun", "alpine", *cmd)
    assert r.returncode == code, r.stderr
    assert ok(run_rpod(env, "inspect", "--format", "{{.OCIRuntime}}", "codes")).stdout == "crun\n"


def test_mount_volume_nocopy_and_named_volume_chown_after_copy_up(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--mount", "type=volume,src=mnt,dst=/home/user,volume-nocopy",
                    "layered", "ls", "-A", "/home/user"))
    assert r.stdout == ""
    r = ok(run_rpod(env, "run", "--rm", "--user", "2000:3000", "-v", "chowned:/home/user:U", "layered",
                    "stat", "-c", "%u:%g", "/home/user", "/home/user/.profile"))
    assert r.stdout == "2000:3000\n2000:3000\n"
