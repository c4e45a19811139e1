"""The container commands' flags on real containers, against Podman 4.3.1's observed behaviour:
attach (detach keys, --no-stdin), exec -t/-d and its exit codes, start -a/-i, logs flags and
several containers, wait --condition, rm --depend, ps --sort/-s/-n/-l, inspect -l/--size,
kill -s, stop -a/--ignore; the ``died`` event at exit time of a detached container and volume events."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log
from tests.support.tmux import terminal


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


@pytest.fixture
def clean(env: RpodEnv) -> Iterator[RpodEnv]:
    """The module's store, emptied of containers after the test."""
    yield env
    run_rpod(env, "rm", "-f", "-a", "-t", "0")


def events_log(env: RpodEnv) -> list[dict[str, object]]:
    path = Path(env["XDG_DATA_HOME"]) / "rpod" / "events.log"
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def wait_for(pred, timeout: float = 60, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def epoch(ts: str) -> float:
    """An RFC 3339 timestamp with nanoseconds as UNIX seconds."""
    from datetime import datetime

    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", ts)
    assert m, ts
    zone = "+00:00" if m[3] == "Z" else m[3]
    return datetime.fromisoformat(m[1] + zone).timestamp() + float("0" + (m[2] or ""))


# ------------------------------------------------------------------------------------------ exec
def test_exec_exit_codes(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "ex", "alpine", "sleep", "1000"))
    assert run_rpod(env, "exec", "ex", "sh", "-c", "exit 5").returncode == 5
    r = run_rpod(env, "exec", "ex", "nosuch")
    assert r.returncode == 127 and r.stderr.startswith("Error: ") and "nosuch" in r.stderr
    r = run_rpod(env, "exec", "ex", "/etc")
    assert r.returncode == 126 and r.stderr.startswith("Error: ")
    r = run_rpod(env, "exec", "nosuchctr", "true")
    assert r.returncode == 125
    assert r.stderr.startswith('Error: no container with name or ID "nosuchctr" found: no such container')
    ok(run_rpod(env, "create", "--name", "cr", "alpine", "true"))
    r = run_rpod(env, "exec", "cr", "true")
    assert r.returncode == 255  # Podman 4.3.1's code for an exec session that cannot start
    assert "can only create exec sessions on running containers" in r.stderr


def test_exec_env_file_and_privileged(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "exe", "alpine", "sleep", "1000"))
    envfile = tmp_path / "vars.env"
    envfile.write_text("# comment\nA=from-file\nB=file-b\n\n")
    r = ok(run_rpod(env, "exec", "--env-file", str(envfile), "-e", "B=from-flag", "exe", "sh", "-c", "echo $A $B"))
    assert r.stdout == "from-file from-flag\n"
    r = run_rpod(env, "exec", "--env-file", str(tmp_path / "missing.env"), "exe", "true")
    assert r.returncode == 125 and "missing.env" in r.stderr
    r = ok(run_rpod(env, "exec", "--privileged", "exe", "echo", "ok"))
    assert r.stdout == "ok\n" and "level=warning" in r.stderr and "--privileged" in r.stderr


def test_exec_detach_prints_session_id_and_runs(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "exd", "alpine", "sleep", "1000"))
    r = ok(run_rpod(env, "exec", "-d", "exd", "sh", "-c", "sleep 0.3; echo done > /tmp/mark"))
    assert re.fullmatch(r"[0-9a-f]{64}\n", r.stdout), r.stdout
    wait_for(lambda: run_rpod(env, "exec", "exd", "cat", "/tmp/mark").stdout == "done\n", what="exec -d")


def test_exec_tty_under_tmux(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "ext", "alpine", "sleep", "1000"))
    with terminal(tmp_path, env, f"{sys.executable} -m rpod exec -it ext sh; echo EXIT=$?; sleep 30") as term:
        term.wait_prompt(what="the exec shell's prompt")
        term.send("tty; echo hi-$((40+2)); stty size; exit 4", "Enter")
        text = term.wait_for("EXIT=", what="the exec shell to exit")
        assert "hi-42" in text and "EXIT=4" in text and "/dev/pts/" in text
        assert "25 90" in text or "24 90" in text


# ---------------------------------------------------------------------------------------- attach
def test_attach_detach_keys_default_and_custom(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "-it", "--name", "att", "alpine", "sh"))
    for keys, send in (("", ["C-p", "C-q"]), ("--detach-keys ctrl-x ", ["C-x"])):
        cmd = f"{sys.executable} -m rpod attach {keys}att; echo ATTACH-EXIT=$?; sleep 30"
        with terminal(tmp_path, env, cmd) as term:
            deadline = time.monotonic() + 60  # typed before attach set the terminal up, a line may be lost: again
            while not wait_until(lambda: "at-42" in term.screen(), timeout=3):  # noqa: B023
                assert time.monotonic() < deadline, f"the attached shell never answered:\n{term.screen()}"
                term.send("echo at-$((6*7))", "Enter")
            term.send(*send)
            assert "ATTACH-EXIT=0" in term.wait_for("ATTACH-EXIT=", 60, "attach to detach")
        # detaching leaves the container running
        assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "att")).stdout == "running\n"
    # an invalid key spec is a usage error
    r = run_rpod(env, "attach", "--detach-keys", "ctrl-", "att")
    assert r.returncode == 125


@pytest.mark.parametrize("rm", [False, True])
def test_run_it_detaches_with_the_keys(clean: RpodEnv, tmp_path: Path, rm: bool) -> None:
    """Foreground ``run -it``: ctrl-p,ctrl-q returns the shell prompt and leaves the container
    running (with --rm it is still removed when it exits later)."""
    env = clean
    name = "det-rm" if rm else "det"
    cmd = f"{sys.executable} -m rpod run {'--rm ' if rm else ''}-it --name {name} alpine sh; echo RUN-EXIT=$?; sleep 30"
    with terminal(tmp_path, env, cmd) as term:
        term.wait_prompt()
        term.send("echo in-$((6*7))", "Enter")
        term.wait_for("in-42", 60, "the shell's output")
        term.send("C-p", "C-q")
        assert "RUN-EXIT=0" in term.wait_for("RUN-EXIT=", 60, "run to detach")
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", name)).stdout == "running\n"
    assert ok(run_rpod(env, "exec", name, "echo", "alive")).stdout == "alive\n"
    ok(run_rpod(env, "stop", "-t", "0", name))
    if rm:
        wait_for(lambda: run_rpod(env, "container", "exists", name).returncode == 1, 20, "--rm after the exit")
    else:
        assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", name)).stdout == "exited\n"


def test_attach_no_stdin_follows_output_until_exit(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "-i", "--name", "ans", "alpine", "sh", "-c",
                "while [ ! -f /tmp/go ]; do echo tick; sleep 0.2; done; "
                "echo out; echo err >&2; read x; echo read=$x; exit 3"))
    # --no-stdin: our stdin is not forwarded, output is copied, exit code is the container's
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "attach", "--no-stdin", "ans"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)  # a tick: attach is connected
    assert ready and proc.stdout.readline() == "tick\n"  # type: ignore[union-attr]
    proc.stdin.write("ignored\n")  # type: ignore[union-attr]
    proc.stdin.flush()  # type: ignore[union-attr]
    ok(run_rpod(env, "exec", "ans", "touch", "/tmp/go"))
    # a second client feeds stdin ("read=fed" proves "ignored" never reached the container);
    # the --no-stdin client sees the result and the exit code
    # a second client feeds stdin; the --no-stdin client sees the result and the exit code
    feeder = subprocess.run([sys.executable, "-m", "rpod", "attach", "ans"], env=env, input="fed\n",
                            capture_output=True, text=True, timeout=30)
    out, err = proc.communicate(timeout=30)
    assert "out\n" in out and "read=fed\n" in out and "err\n" in err and "ignored" not in out
    assert proc.returncode == 3
    assert feeder.returncode in (0, 3)
    r = run_rpod(env, "attach", "ans")
    assert r.returncode == 125 and "running" in r.stderr


# ----------------------------------------------------------------------------------------- start
def test_start_attach_and_interactive(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "create", "--name", "sa", "alpine", "sh", "-c", "echo out; echo err >&2; exit 3"))
    r = run_rpod(env, "start", "-a", "sa")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    ok(run_rpod(env, "create", "-i", "--name", "si", "alpine", "cat"))
    r = run_rpod(env, "start", "-a", "-i", "si", input="fed\n")
    assert (r.returncode, r.stdout) == (0, "fed\n")
    r = run_rpod(env, "start", "-a", "--detach-keys", "ctrl-", "sa")
    assert r.returncode == 125 and "detach keys" in r.stderr
    r = run_rpod(env, "run", "--rm", "--detach-keys", "bogus-keys", "alpine", "true")
    assert r.returncode == 125 and "detach keys" in r.stderr
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout.count("\n") == 2  # nothing was created
    # starting a running container is not an error and prints nothing (Podman 4.3.1); the others print their names
    ok(run_rpod(env, "run", "-d", "--name", "up", "alpine", "sleep", "1000"))
    ok(run_rpod(env, "create", "--name", "c2", "alpine", "true"))
    assert ok(run_rpod(env, "start", "up", "c2")).stdout == "c2\n"
    r = run_rpod(env, "start", "-a", "up", "c2")
    assert r.returncode == 125


# ------------------------------------------------------------------------------------------ logs
def test_logs_flags_and_several_containers(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "--name", "l1", "alpine", "sh", "-c", "echo one; echo err >&2; sleep 1.2; echo two"))
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "l1")).stdout.strip()
    r = ok(run_rpod(env, "logs", "l1"))
    assert (r.stdout, r.stderr) == ("one\ntwo\n", "err\n")
    assert ok(run_rpod(env, "logs", "--tail", "1", "l1")).stdout == "two\n"
    assert ok(run_rpod(env, "logs", "--tail", "0", "l1")).stdout == ""
    stamped = ok(run_rpod(env, "logs", "-t", "l1")).stdout.splitlines()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (one|two)", ln) for ln in stamped)
    t_two = stamped[1].split()[0]
    # --since/--until: the second line is ~1.2 s after the first
    assert ok(run_rpod(env, "logs", "--since", t_two, "l1")).stdout == "two\n"
    before_two = f"{epoch(t_two) - 0.5:.3f}"
    assert ok(run_rpod(env, "logs", "--until", before_two, "l1")).stdout == "one\n"
    assert ok(run_rpod(env, "logs", "--since", "2020-01-01T00:00:00Z", "l1")).stdout == "one\ntwo\n"
    assert ok(run_rpod(env, "logs", "--since", "1h", "l1")).stdout == "one\ntwo\n"
    assert ok(run_rpod(env, "logs", "--until", "2020-01-01T00:00:00Z", "l1")).stdout == ""
    # several containers: each line prefixed with the short id, as Podman
    ok(run_rpod(env, "run", "--name", "l2", "alpine", "echo", "other"))
    cid2 = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "l2")).stdout.strip()
    r = ok(run_rpod(env, "logs", "l1", "l2"))
    assert r.stdout == f"{cid[:12]} one\n{cid[:12]} two\n{cid2[:12]} other\n"
    assert ok(run_rpod(env, "logs", "-n", "l1", "l2")).stdout == "l1 one\nl1 two\nl2 other\n"
    assert ok(run_rpod(env, "logs", "-n", "l2")).stdout == "other\n"  # one container: no prefix
    # -f on a stopped container prints and returns
    assert ok(run_rpod(env, "logs", "-f", "l1")).stdout == "one\ntwo\n"


def test_logs_follow_running(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "lf", "alpine", "sh", "-c",
                "for i in 1 2 3; do echo line$i; sleep 0.4; done"))
    r = ok(run_rpod(env, "logs", "-f", "lf", timeout=30))
    assert r.stdout == "line1\nline2\nline3\n"
    ok(run_rpod(env, "run", "-d", "--name", "lf2", "alpine", "sh", "-c", "sleep 0.5; echo a; sleep 0.5; echo b"))
    r = ok(run_rpod(env, "logs", "-f", "--tail", "5", "lf2", timeout=30))
    assert r.stdout == "a\nb\n"
    # several containers are followed together, each line prefixed with its container's id
    ids = [ok(run_rpod(env, "run", "-d", "--name", n, "alpine", "sh", "-c",
                       f"sleep 0.5; echo {n}-1; sleep {d}; echo {n}-2")).stdout.strip()
           for n, d in (("fa", "0.5"), ("fb", "1.2"))]
    r = ok(run_rpod(env, "logs", "-f", "fa", "fb", timeout=30))
    lines = r.stdout.splitlines()
    assert sorted(lines) == sorted(f"{i[:12]} {n}-{k}" for i, n in zip(ids, ("fa", "fb"), strict=True) for k in (1, 2))
    assert lines[-1] == f"{ids[1][:12]} fb-2"
    # --until ends a follow
    ok(run_rpod(env, "run", "-d", "--name", "forever", "alpine", "sh", "-c", "while true; do echo x; sleep 0.2; done"))
    t0 = time.monotonic()
    r = ok(run_rpod(env, "logs", "-f", "--until", f"{time.time() + 1.5:.3f}", "forever", timeout=30))
    assert 1.0 < time.monotonic() - t0 < 10 and set(r.stdout.split()) == {"x"}


# ------------------------------------------------------------------------------------------ wait
def test_wait_conditions(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "w1", "alpine", "sleep", "1000"))
    assert ok(run_rpod(env, "wait", "--condition", "running", "w1")).stdout == "-1\n"
    r = run_rpod(env, "wait", "--condition", "bogus", "w1")
    assert r.returncode == 125 and "bogus" in r.stderr
    ok(run_rpod(env, "create", "--name", "w2", "alpine", "sh", "-c", "exit 4"))
    assert ok(run_rpod(env, "wait", "--condition", "created", "w2")).stdout == "-1\n"
    ok(run_rpod(env, "start", "w2"))
    assert ok(run_rpod(env, "wait", "w2")).stdout == "4\n"
    ok(run_rpod(env, "run", "--name", "w3", "alpine", "true"))
    assert ok(run_rpod(env, "wait", "w2", "w3")).stdout == "4\n0\n"
    assert ok(run_rpod(env, "wait", "--condition", "exited", "w3")).stdout == "0\n"
    r = run_rpod(env, "wait", "nosuch")
    assert r.returncode == 125


# ------------------------------------------------------------------------------------------- ps
def test_ps_sort_last_latest_size(clean: RpodEnv) -> None:
    env = clean
    for n in ("bravo", "alpha", "charlie"):
        ok(run_rpod(env, "create", "--name", n, "alpine", "true"))  # creation times: ns, in order
    names = ok(run_rpod(env, "ps", "-a", "--sort", "names", "--format", "{{.Names}}")).stdout
    assert names == "alpha\nbravo\ncharlie\n"
    # oldest first (Podman 4.3.1, observed); -n N: the N newest, still oldest first
    assert ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}}")).stdout == "bravo\nalpha\ncharlie\n"
    assert ok(run_rpod(env, "ps", "-n", "2", "--format", "{{.Names}}")).stdout == "alpha\ncharlie\n"
    assert ok(run_rpod(env, "ps", "-l", "--format", "{{.Names}}")).stdout == "charlie\n"
    assert ok(run_rpod(env, "ps", "-a", "-q", "--sort", "names")).stdout.count("\n") == 3
    r = run_rpod(env, "ps", "--sort", "bogus")
    assert r.returncode == 125 and "bogus" in r.stderr
    ok(run_rpod(env, "run", "--name", "big", "alpine", "sh", "-c", "head -c 300000 /dev/zero > /big"))
    line = ok(run_rpod(env, "ps", "-a", "-s", "--filter", "name=big", "--format", "{{.Names}} {{.Size}}")).stdout
    assert re.fullmatch(r"big (\d+(\.\d+)?)kB \(virtual \d+(\.\d+)?MB\)\n", line), line
    table = ok(run_rpod(env, "ps", "-a", "-s", "--filter", "name=big")).stdout.splitlines()
    assert table[0].split()[-1] == "SIZE" and "(virtual" in table[1]


# -------------------------------------------------------------------------------------- inspect
def test_inspect_latest_and_size(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "create", "--name", "first", "alpine", "true"))
    ok(run_rpod(env, "run", "--name", "sized", "alpine", "sh", "-c", "head -c 100000 /dev/zero > /blob"))
    assert ok(run_rpod(env, "inspect", "-l", "--format", "{{.Name}}")).stdout == "sized\n"
    out = ok(run_rpod(env, "inspect", "--size", "--format", "{{.SizeRw}} {{.SizeRootFs}}", "sized")).stdout.split()
    rw, rootfs = int(out[0]), int(out[1])
    assert 100000 <= rw < 200000 and rootfs > 1_000_000 + rw
    doc = json.loads(ok(run_rpod(env, "inspect", "sized")).stdout)[0]
    assert "SizeRw" not in doc  # only with --size, as Podman
    assert ok(run_rpod(env, "container", "inspect", "-l", "-s", "--format", "{{.SizeRw}}")).stdout.strip() == str(rw)


# -------------------------------------------------------------------------------- kill and stop
def test_kill_signal_by_name_and_number(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "k1", "alpine", "sh", "-c",
                "trap 'exit 10' USR1; trap 'exit 11' HUP; echo trapped; while true; do sleep 0.1; done"))
    wait_for_log(env, "k1", "trapped")  # a signal sent before the trap is set kills sh instead
    assert ok(run_rpod(env, "kill", "-s", "USR1", "k1")).stdout == "k1\n"
    assert ok(run_rpod(env, "wait", "k1")).stdout == "10\n"
    ok(run_rpod(env, "run", "-d", "--name", "k2", "alpine", "sh", "-c",
                "trap 'exit 11' HUP; echo trapped; while true; do sleep 0.1; done"))
    wait_for_log(env, "k2", "trapped")
    ok(run_rpod(env, "kill", "--signal", "1", "k2"))
    assert ok(run_rpod(env, "wait", "k2")).stdout == "11\n"
    ok(run_rpod(env, "run", "-d", "--name", "k3", "alpine", "sleep", "1000"))
    ok(run_rpod(env, "kill", "-s", "SIGKILL", "k3"))  # (sleep as pid 1 ignores SIGTERM, in Podman too)
    assert ok(run_rpod(env, "wait", "k3")).stdout == "137\n"
    r = run_rpod(env, "kill", "-s", "BOGUS", "k3")
    assert r.returncode == 125 and "BOGUS" in r.stderr
    r = run_rpod(env, "kill", "k3")
    assert r.returncode == 125 and "can only kill running containers" in r.stderr


def test_stop_all_and_ignore(clean: RpodEnv) -> None:
    env = clean
    ids = [ok(run_rpod(env, "run", "-d", "--name", f"s{i}", "alpine", "sleep", "1000")).stdout.strip()
           for i in range(2)]
    ok(run_rpod(env, "create", "--name", "idle", "alpine", "true"))
    r = ok(run_rpod(env, "stop", "--ignore", "nosuch"))
    assert r.stdout == ""
    r = run_rpod(env, "stop", "nosuch")
    assert r.returncode == 125 and 'no container with name or ID "nosuch" found' in r.stderr
    idle = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "idle")).stdout.strip()
    r = ok(run_rpod(env, "stop", "-a", "-t", "0"))
    assert sorted(r.stdout.split()) == sorted([*ids, idle])  # all containers, as Podman
    assert ok(run_rpod(env, "ps", "-q")).stdout == ""
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.ExitCode}}", "s0")).stdout == "137\n"


def test_rm_depend(clean: RpodEnv) -> None:
    env = clean
    cid = ok(run_rpod(env, "create", "--name", "dep", "alpine", "true")).stdout.strip()
    r = ok(run_rpod(env, "rm", "--depend", "dep"))
    assert r.stdout == f"{cid}\n"
    assert run_rpod(env, "container", "exists", "dep").returncode == 1
    # a container sharing another's network namespace goes first
    base = ok(run_rpod(env, "run", "-d", "--name", "base", "alpine", "sleep", "1000")).stdout.strip()
    child = ok(run_rpod(env, "create", "--name", "child", "--network", "container:base", "alpine", "true")
               ).stdout.strip()
    r = ok(run_rpod(env, "rm", "-f", "-t", "0", "--depend", "base"))
    assert r.stdout == f"{child}\n{base}\n"


# ---------------------------------------------------------------------------------------- events
def test_died_event_at_exit_time_of_a_detached_container(clean: RpodEnv) -> None:
    env = clean
    cid = ok(run_rpod(env, "run", "-d", "--name", "dies", "-l", "k=v", "alpine", "sh", "-c", "sleep 0.5; exit 3")
             ).stdout.strip()
    # no rpod command observes the exit: the monitor itself must log it
    wait_for(lambda: any(e.get("Status") == "died" and e.get("ID") == cid for e in events_log(env)),
             what="the monitor's died event")
    died = next(e for e in events_log(env) if e.get("Status") == "died" and e.get("ID") == cid)
    assert died["ContainerExitCode"] == 3 and died["Name"] == "dies" and died["Attributes"] == {"k": "v"}
    # and it is not logged twice when a CLI looks at the container later
    ok(run_rpod(env, "rm", "dies"))
    assert [e["Status"] for e in events_log(env) if e.get("ID") == cid] == ["create", "start", "died", "remove"]


def test_volume_events(clean: RpodEnv) -> None:
    env = clean
    before = len(events_log(env))
    ok(run_rpod(env, "volume", "create", "v1"))
    ok(run_rpod(env, "volume", "create", "v2"))
    ok(run_rpod(env, "volume", "rm", "v1"))
    ok(run_rpod(env, "volume", "prune", "-f"))
    ok(run_rpod(env, "run", "--rm", "-v", "/anon", "alpine", "true"))
    evs = [e for e in events_log(env)[before:] if e["Type"] == "volume"]
    anon = evs[-1]["Name"]
    assert [(e["Status"], e["Name"]) for e in evs] == [
        ("create", "v1"), ("create", "v2"), ("remove", "v1"), ("remove", "v2"), ("prune", "v2"),
        ("create", anon), ("remove", anon)]
    assert all(e["Attributes"] is None for e in evs)
    lines = ok(run_rpod(env, "events", "--stream=false", "--filter", "type=volume")).stdout.splitlines()
    assert lines[-1].endswith(f" volume remove {anon}") and " volume create v1" in lines[-7]
    assert os.path.exists(Path(env["XDG_DATA_HOME"]) / "rpod" / "events.log")


def test_inspect_finds_images_too_as_podman(env: RpodEnv) -> None:
    """``inspect`` (type all) looks for a container first, then an image: Jenkins' ``inspect -f . IMAGE``."""
    image_id = ok(run_rpod(env, "images", "-q", "--no-trunc", "alpine")).stdout.strip().removeprefix("sha256:")
    assert ok(run_rpod(env, "inspect", "-f", ".", "alpine")).stdout == ".\n"
    assert ok(run_rpod(env, "inspect", "-f", "{{.Id}} {{.Config.Cmd}}", "alpine")).stdout == f"{image_id} [/bin/sh]\n"
    doc = json.loads(ok(run_rpod(env, "inspect", "alpine")).stdout)
    assert doc[0]["Id"] == image_id and doc[0]["RepoTags"]
    r = run_rpod(env, "inspect", "--type", "container", "alpine")
    assert r.returncode == 125 and 'no such object: "alpine"' in r.stderr
    r = run_rpod(env, "inspect", "-f", "{{.Nope}}", "alpine")
    assert r.returncode == 125 and "can't evaluate field Nope" in r.stderr
    # a container of the same name wins; --type image narrows
    ok(run_rpod(env, "create", "--name", "alpine", "alpine", "true"))
    assert ok(run_rpod(env, "inspect", "-f", "{{.Name}}", "alpine")).stdout == "alpine\n"
    assert ok(run_rpod(env, "inspect", "--type", "image", "-f", "{{.Id}}", "alpine")).stdout == f"{image_id}\n"
