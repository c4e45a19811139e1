"""Never lose data, never be tricked (issue 14): each defect reproduced through the real CLI.

One store for the module (alpine pulled); each test makes and removes its own containers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import alive, pids_mentioning, wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod

NONE = ("--network", "none")


@pytest.fixture
def env(module_env: RpodEnv) -> Iterator[RpodEnv]:
    yield module_env
    run_rpod(module_env, "rm", "-f", "-a", "-t", "0")


def store(env: RpodEnv) -> Path:
    return env.data_home / "rpod"


def one_error(r: subprocess.CompletedProcess[str]) -> str:
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    return errors[0]


# ------------------------------------------------------------------ defect 11: Podman's exit codes
def test_unknown_log_level_is_podmans_exit_1(env: RpodEnv) -> None:
    r = run_rpod(env, "--log-level", "nope", "ps")
    assert r.returncode == 1
    assert r.stderr.startswith('Log Level "nope" is not supported, choose from: trace, debug, info, warn')


def test_relative_workdir_is_exit_126(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--rm", *NONE, "-w", "relative", "alpine", "true")
    assert r.returncode == 126, r.stderr
    assert 'workdir "relative" does not exist on container' in one_error(r)


# ------------------------------------------------------------------ defect 4: no internal errors
def test_invalid_port_is_a_registry_error(env: RpodEnv) -> None:
    r = run_rpod(env, "pull", "127.0.0.1:99999/x")
    assert r.returncode == 125
    err = one_error(r)
    assert "internal error" not in err and "127.0.0.1:99999" in err and "invalid port" in err


def test_a_300_character_name_runs(env: RpodEnv) -> None:
    name = "n" * 300
    r = ok(run_rpod(env, "run", "--name", name, *NONE, "alpine", "echo", "hi"))
    assert r.stdout == "hi\n"
    assert name in ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}}")).stdout.split()
    assert ok(run_rpod(env, "inspect", "--format", "{{.Name}}", name)).stdout.strip() == name
    r = run_rpod(env, "create", "--name", name, "alpine", "true")
    assert r.returncode == 125 and "already in use" in one_error(r)
    ok(run_rpod(env, "rm", name))
    ok(run_rpod(env, "create", "--name", name, "alpine", "true"))


# ------------------------------------------------------------------ defect 6: name and record out of step
def _cid(env: RpodEnv, name: str) -> str:
    return ok(run_rpod(env, "inspect", "--format", "{{.Id}}", name)).stdout.strip()


def test_name_link_without_record_is_freed(env: RpodEnv) -> None:
    """A create killed after linking the name, before writing the record."""
    ok(run_rpod(env, "create", "--name", "ghost", "alpine", "true"))
    cid = _cid(env, "ghost")
    os.unlink(store(env) / "containers" / cid / "container.json")
    r = run_rpod(env, "system", "check")
    assert r.returncode == 125 and "name link points to" in r.stdout and "ghost" in r.stdout, r.stdout + r.stderr
    ok(run_rpod(env, "rm", "-f", "ghost"))
    ok(run_rpod(env, "run", "--rm", "--name", "ghost", *NONE, "alpine", "true"))
    ok(run_rpod(env, "system", "check"))
    assert not (store(env) / "containers" / cid).exists()  # the directory without a record is reclaimed


def test_record_without_name_link_is_found_and_repaired(env: RpodEnv) -> None:
    """An rm (of an older rpod) killed after unlinking the name, before the record."""
    ok(run_rpod(env, "create", "--name", "half", "alpine", "true"))
    cid = _cid(env, "half")
    os.unlink(store(env) / "container-names" / "half")
    r = run_rpod(env, "system", "check")
    assert r.returncode == 125 and "has no name link" in r.stdout, r.stdout
    assert "system check --repair" in r.stderr
    r = ok(run_rpod(env, "system", "check", "--repair"))
    assert "repaired container" in r.stdout
    assert _cid(env, "half") == cid
    os.unlink(store(env) / "container-names" / "half")  # again: a command that meets it relinks it
    assert _cid(env, "half") == cid
    assert (store(env) / "container-names" / "half").is_symlink()
    r = run_rpod(env, "create", "--name", "half", "alpine", "true")  # no second container of that name
    assert r.returncode == 125 and "already in use" in one_error(r)
    ok(run_rpod(env, "system", "check"))


# ------------------------------------------------------------------ defect 5: space a kill leaves behind
def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("command", [("system", "prune", "-f"), ("create", "alpine", "true"),
                                     ("image", "prune", "-f")])
def test_what_a_killed_rm_or_rmi_left_is_reclaimed(env: RpodEnv, command: tuple[str, ...]) -> None:
    tmp = store(env) / "tmp"
    tmp.mkdir(exist_ok=True)
    removing = [tmp / f"{'a' * 64}.removing.{_dead_pid()}", tmp / f"{'b' * 64}.removing"]
    for d in removing:
        (d / "diff" / "etc").mkdir(parents=True)
        (d / "diff" / "etc" / "big").write_bytes(b"x" * 65536)
    orphan = store(env) / "containers" / ("c" * 64)
    (orphan / "upper").mkdir(parents=True)
    (orphan / "ctr.log").write_text("left by a killed rm\n")
    live = tmp / f"{'d' * 64}.removing.{os.getpid()}"  # a removal in progress (this process lives)
    live.mkdir()
    scratch = tmp / f"build-{_dead_pid()}-x1y2"  # a killed build's scratch
    (scratch / "upper").mkdir(parents=True)
    r = run_rpod(env, "system", "check")
    assert r.returncode == 125 and "removal abandoned" in r.stdout and "without a record" in r.stdout
    assert scratch.name in r.stdout
    run_rpod(env, *command)
    for d in (*removing, orphan):
        assert not d.exists(), f"{d.name} left by {' '.join(command)}"
    assert live.exists()
    live.rmdir()
    if "prune" in command:
        assert not scratch.exists()
    ok(run_rpod(env, "system", "check", "--repair"))
    assert not scratch.exists()
    ok(run_rpod(env, "system", "check"))


# ------------------------------------------------------------------ defect 8: generated names
def test_concurrent_creates_without_name_never_collide(env: RpodEnv) -> None:
    """Names are generated under the store lock: 8 creates at once, 8 names, all succeed."""
    procs = [subprocess.Popen([sys.executable, "-m", "rpod", "create", "alpine", "true"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=env.home)
             for _ in range(8)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert all(rc == 0 for _o, _e, rc in results), results
    names = ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}}")).stdout.split()
    assert len(names) == 8 and len(set(names)) == 8


# ------------------------------------------------------------------ defect 7: a monitor left waiting
def test_monitor_exits_when_its_cli_dies_before_configuring_it(env: RpodEnv, tmp_path: Path) -> None:
    """The CLI's end of the sync socket leaks into a long-lived child (as after a process-group
    kill that spared a helper): EOF never comes, the monitor must notice the CLI died."""
    script = textwrap.dedent("""
        import os, subprocess, sys
        from rpod.container.monitorspawn import spawn_monitor
        spawn = spawn_monitor(None)
        keeper = subprocess.Popen(["sleep", "300"], pass_fds=[spawn.sync.fileno()],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(spawn.cid, keeper.pid, flush=True)
        os.kill(os.getpid(), 9)
    """)
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    cid, keeper = r.stdout.split()
    try:
        assert wait_until(lambda: not pids_mentioning(cid), timeout=30), "the monitor still waits"
    finally:
        os.kill(int(keeper), signal.SIGKILL)


def test_slirp_failure_keeps_the_reason_not_the_usage(tmp_path: Path) -> None:
    from rootless.slirp import _tail

    log = tmp_path / "slirp4netns.log"
    usage = "\n".join(f"--option-{i}   some help text for an option" for i in range(40))
    log.write_text("old run: fine\nslirp4netns: unrecognized option '--bogus'\nUsage: slirp4netns [OPTION]... "
                   f"PID|PATH [TAPNAME]\n{usage}\n")
    offset = len("old run: fine\n")
    assert _tail(str(log), offset=offset) == "slirp4netns: unrecognized option '--bogus'"


# ------------------------------------------------------------------ defect 1 through the CLI: leases
def test_lease_of_a_dead_pull_expires(env: RpodEnv) -> None:
    """A pull killed with its lease held protects nothing once dead: clean-up drops the lease."""
    leases = store(env) / "leases"
    leases.mkdir(exist_ok=True)
    (leases / "pull-1-dead.lock").write_text("")
    (leases / "pull-1-dead.json").write_text(json.dumps(["sha256:" + "e" * 64]))
    ok(run_rpod(env, "image", "prune", "-f"))
    assert sorted(p.name for p in leases.iterdir()) == []


def test_kill_during_run_rm_leaves_no_monitor(env: RpodEnv) -> None:
    """A process-group kill of ``run --rm`` right after it started the container, then ``rm -af``:
    no monitor of that container survives."""
    p = subprocess.Popen([sys.executable, "-m", "rpod", "run", "--rm", "--name", "pgkill", *NONE, "alpine",
                          "sleep", "1000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, cwd=env.home)
    assert wait_until(lambda: "pgkill" in run_rpod(env, "ps", "--format", "{{.Names}}").stdout, timeout=60)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    ok(run_rpod(env, "rm", "-af", "-t", "0"))
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""
    assert wait_until(lambda: not [q for q in pids_mentioning(str(env.runtime_dir)) if alive(q)], timeout=30)
