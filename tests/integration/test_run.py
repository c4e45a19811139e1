"""``rpod run`` end to end against real containers: output, exit codes, stdin, --rm, -d, names, -t."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod
from tests.support.tmux import terminal


def containers_dir(env: RpodEnv) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "rpod" / "containers"


def test_echo_hello_and_rm_removes(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "alpine", "echo", "hello"))
    assert r.stdout == "hello\n"
    assert not [p for p in containers_dir(env).iterdir() if p.is_dir()]
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""


@pytest.mark.parametrize(("cmd", "code"), [
    (["sh", "-c", "exit 7"], 7),
    (["sh", "-c", "exit 125"], 125),
    (["no-such-command"], 127),
    (["/etc"], 126),
])
def test_exit_codes(env: RpodEnv, cmd: list[str], code: int) -> None:
    r = run_rpod(env, "run", "--rm", "alpine", *cmd)
    assert r.returncode == code, r.stderr
    if code in (126, 127):
        assert r.stderr.startswith("Error: "), r.stderr


def test_missing_image_is_125(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--rm", "--pull=never", "no-such-image-here", "true")
    assert r.returncode == 125, r.stderr


def test_stdout_and_stderr_are_separate_and_logged(env: RpodEnv) -> None:
    r = run_rpod(env, "run", "--name", "both", "alpine", "sh", "-c", "echo out; echo err >&2; printf tail")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "out\ntail"
    assert r.stderr == "err\n"
    logs = ok(run_rpod(env, "logs", "both"))
    assert logs.stdout == "out\ntail"
    assert logs.stderr == "err\n"
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "both")).stdout.strip()
    log_lines = (containers_dir(env) / cid / "ctr.log").read_text().splitlines()
    records = [ln.split(" ", 2)[1:] for ln in log_lines]
    # the two pipes are read independently: order within a stream is kept, across streams it is not
    assert [r for r in records if r[0] == "stdout"] == [["stdout", "F out"], ["stdout", "P tail"]]
    assert [r for r in records if r[0] == "stderr"] == [["stderr", "F err"]]
    assert all(ln[:4].isdigit() and ln[10] == "T" for ln in log_lines)


def test_stdin_is_passed_through(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "-i", "alpine", "cat", input="data\nmore\n"))
    assert r.stdout == "data\nmore\n"
    # without -i the container's stdin is empty
    r = ok(run_rpod(env, "run", "--rm", "alpine", "cat", input="ignored\n"))
    assert r.stdout == ""


def test_inside_the_container(env: RpodEnv) -> None:
    script = ("id -u; cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; hostname; ps -o pid,comm | tail -n +2; "
              "stat -c '%u:%g %a' /home/user /bin/busybox; ls /etc/rpod-layered; ls -l /bin/bbsuid 2>/dev/null | "
              "cut -c1-10")
    r = ok(run_rpod(env, "run", "--rm", "--name", "inside", "--hostname", "boxy", "layered", "sh", "-c", script))
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1] == f"0 {os.getuid()} 1"
    assert lines[2].startswith("1 100000 ") or lines[2].split()[0] == "1"
    assert lines[3] == "boxy"
    procs = [ln.split() for ln in lines[4:] if ln.split() and ln.split()[0].isdigit()]
    assert [p[0] for p in procs][:1] == ["1"] and len(procs) <= 3, lines
    assert "1000:1000 750" in r.stdout
    assert "0:0 755" in r.stdout
    assert "keep.txt" in r.stdout and "remove-me.txt" not in r.stdout


def test_detached_survives_killed_cli_and_records_exit(env: RpodEnv) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "run", "-d", "--name", "web", "alpine", "sleep", "1000"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    cid = out.strip()
    assert len(cid) == 64
    ps = ok(run_rpod(env, "ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"))
    assert ps.stdout.startswith(f"{cid[:12]} web Up"), ps.stdout
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Running}} {{.State.Status}}", "web")).stdout == \
        "true running\n"
    # a foreground CLI killed with SIGKILL leaves its container running
    fg = subprocess.Popen([sys.executable, "-m", "rpod", "run", "--name", "fg", "alpine", "sleep", "1000"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while "fg" not in run_rpod(env, "ps", "--format", "{{.Names}}").stdout:
        assert time.monotonic() < deadline, "the foreground container never started"
        time.sleep(0.1)
    fg.send_signal(signal.SIGKILL)
    fg.wait()
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "fg")).stdout == "running\n"
    ok(run_rpod(env, "kill", "fg"))
    assert ok(run_rpod(env, "wait", "fg")).stdout == "137\n"
    assert ok(run_rpod(env, "stop", "-t", "1", "web")).stdout == "web\n"
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.ExitCode}}", "web")).stdout == "137\n"
    ps = ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}} {{.Status}}"))
    assert "web Exited (137)" in ps.stdout
    ok(run_rpod(env, "rm", "web", "fg"))
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""


def test_detached_rm_is_removed_by_the_monitor(env: RpodEnv) -> None:
    cid = ok(run_rpod(env, "run", "-d", "--rm", "alpine", "sh", "-c", "sleep 0.3")).stdout.strip()
    deadline = time.monotonic() + 20
    while (containers_dir(env) / cid).exists():
        assert time.monotonic() < deadline, "the --rm container was not removed"
        time.sleep(0.1)
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""


def test_name_race_exactly_one_wins(env: RpodEnv) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "rpod", "create", "--name", "x", "alpine", "true"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 125, 125], results
    assert all('name "x" is already in use' in err for code, err in results if code == 125)
    r = run_rpod(env, "run", "--name", "x", "alpine", "true")
    assert r.returncode == 125 and "already in use" in r.stderr
    ok(run_rpod(env, "run", "--replace", "--name", "x", "alpine", "true"))


def test_create_start_attach_and_wait(env: RpodEnv) -> None:
    cid = ok(run_rpod(env, "create", "--name", "later", "alpine", "sh", "-c", "echo started; exit 3")).stdout.strip()
    assert ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}} {{.Status}}")).stdout == "later Created\n"
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", cid)).stdout == "created\n"
    r = run_rpod(env, "start", "-a", "later")
    assert (r.returncode, r.stdout) == (3, "started\n")
    ok(run_rpod(env, "start", "later"))
    assert ok(run_rpod(env, "wait", "later")).stdout == "3\n"
    assert ok(run_rpod(env, "logs", "later")).stdout == "started\nstarted\n"


def test_tty_under_tmux(env: RpodEnv, tmp_path: Path) -> None:
    cmd = f"{sys.executable} -m rpod run --rm -it --name tty alpine sh; echo EXIT=$?; sleep 30"
    with terminal(tmp_path, env, cmd, cols=100, rows=30) as term:
        term.wait_prompt()
        term.send("echo hi-$((40+2)); stty size; exit 5", "Enter")
        text = term.wait_for("EXIT=", what="the shell to exit")
        assert "hi-42" in text
        assert "30 100" in text or "29 100" in text
        assert "EXIT=5" in text


def test_inspect_document(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "doc", "-e", "FOO=bar", "-l", "k=v", "alpine", "true"))
    doc = json.loads(ok(run_rpod(env, "inspect", "doc")).stdout)[0]
    assert doc["Name"] == "doc"
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 0
    assert "FOO=bar" in doc["Config"]["Env"]
    assert doc["Config"]["Labels"]["k"] == "v"
    assert doc["Config"]["Cmd"] == ["true"]
    assert ok(run_rpod(env, "inspect", "-f", '{{index .Config.Labels "k"}}', "doc")).stdout == "v\n"
    r = run_rpod(env, "inspect", "nope")
    assert r.returncode == 125


def test_run_latency_and_light_imports(env: RpodEnv) -> None:
    """``run --rm alpine true`` and ``run -d`` stay fast; the hot path imports no requests/rich/pyroute2."""
    import statistics

    def timed(*args: str) -> float:
        t0 = time.perf_counter()
        ok(run_rpod(env, *args))
        return time.perf_counter() - t0

    timed("run", "--rm", "alpine", "true")  # warm the page cache and the overlay probe
    fg = statistics.median(timed("run", "--rm", "alpine", "true") for _ in range(7))
    bg = statistics.median(timed("run", "-d", "alpine", "true") for _ in range(5))
    print(f"\nrun --rm alpine true: median {fg * 1000:.0f} ms; run -d: median {bg * 1000:.0f} ms")
    # a guard against gross regressions only (an import of seconds); bench/ measures latency
    assert fg < 2.5 and bg < 2.5
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "rpod", "run", "--rm", "alpine", "true"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=env["HOME"])
    assert r.returncode == 0, r.stderr
    modules = {ln.split("|")[-1].strip().split(".")[0] for ln in r.stderr.splitlines() if ln.startswith("import time:")}
    assert not modules & {"requests", "rich", "pyroute2", "urllib3"}, modules & {"requests", "rich", "pyroute2"}
