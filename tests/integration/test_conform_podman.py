"""Behaviours Podman 4.3.1's own system tests (test/system/*.bats) check, on real containers:
``start --all``/``--filter`` and their errors, what ``start`` prints, ``ps --filter`` without
``-a``, ``wait`` on a never-started container, ``kill -s -N``, the ``stopping`` state and
``stop --timeout``. Each expected line is Podman's, observed on this machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod, wait_for_log


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


@pytest.fixture
def clean(env: RpodEnv) -> Iterator[RpodEnv]:
    """The module's store, emptied of containers after the test."""
    yield env
    run_rpod(env, "rm", "-f", "-a", "-t", "0")


def test_start_all_and_filter(clean: RpodEnv) -> None:
    env = clean
    done0 = ok(run_rpod(env, "run", "-d", "alpine", "true")).stdout.strip()
    done1 = ok(run_rpod(env, "run", "-d", "--restart=no", "alpine", "false")).stdout.strip()
    up = ok(run_rpod(env, "run", "-d", "--restart=always", "alpine", "sleep", "100")).stdout.strip()
    ok(run_rpod(env, "wait", done0, done1))
    # --filter with names: only the named containers among the matches, printed by ID
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=always", done0)).stdout == ""
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=none", done0)).stdout == done0 + "\n"
    ok(run_rpod(env, "wait", done0))
    assert ok(run_rpod(env, "start", "--filter", "restart-policy=no")).stdout == done1 + "\n"
    ok(run_rpod(env, "wait", done1))
    assert ok(run_rpod(env, "start", "--all", "--filter", "exited=1")).stdout == done1 + "\n"
    ok(run_rpod(env, "wait", done1))
    # --all: every container that is not running, by ID; the running one is not listed
    out = ok(run_rpod(env, "start", "--all")).stdout.split()
    assert sorted(out) == sorted([done0, done1]) and up not in out
    # a running container named on the command line is left alone and not printed
    assert ok(run_rpod(env, "start", up)).stdout == ""


def test_start_errors(clean: RpodEnv) -> None:
    env = clean
    r = run_rpod(env, "start", "--all", "12333")
    assert (r.returncode, r.stderr) == (
        125, "Error: either start all containers or the container(s) provided in the arguments\n")
    cid = ok(run_rpod(env, "create", "alpine", "true")).stdout.strip()
    r = run_rpod(env, "start", "--filter", "restart-policy=fakepolicy", cid)
    assert (r.returncode, r.stderr) == (125, "Error: fakepolicy invalid restart policy\n")
    r = run_rpod(env, "start")
    assert (r.returncode, r.stderr) == (125, "Error: start requires at least one argument\n")


def test_ps_filter_does_not_imply_all(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "run", "-d", "--name", "runner", "alpine", "sleep", "100"))
    ok(run_rpod(env, "run", "--name", "stopped", "alpine", "true"))
    assert run_rpod(env, "run", "--name", "failed", "alpine", "false").returncode == 1
    ok(run_rpod(env, "create", "--name", "created", "alpine", "true"))
    fmt = ("--format", "{{.Names}}")
    assert ok(run_rpod(env, "ps", "--filter", "name=runner", *fmt)).stdout == "runner\n"
    assert ok(run_rpod(env, "ps", "--filter", "name=stopped", *fmt)).stdout == ""  # no -a: running only
    assert ok(run_rpod(env, "ps", "-a", "--filter", "name=stopped", *fmt)).stdout == "stopped\n"
    # status= is Docker's exception: it looks at every container; "stopped" matches exited ones
    out = ok(run_rpod(env, "ps", "--filter", "status=stopped", "--sort", "names", *fmt)).stdout
    assert out == "failed\nstopped\n"
    out = ok(run_rpod(env, "ps", "--filter", "status=exited", "--filter", "exited=1", *fmt)).stdout
    assert out == "failed\n"
    r = run_rpod(env, "ps", "--filter", "status=bogus")
    assert (r.returncode, r.stderr) == (125, "Error: unknown container state: bogus: invalid argument\n")


def test_wait_on_never_started_container_returns(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "create", "--name", "never", "alpine", "/no/such/command"))
    r = run_rpod(env, "wait", "never", timeout=60)
    assert (r.returncode, r.stdout) == (0, "0\n")
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "never")).stdout.strip()
    r = run_rpod(env, "start", "never")  # start (not run) fails with 125 and names the container
    assert r.returncode == 125 and r.stderr.startswith(f'Error: unable to start container "{cid}": '), r.stderr
    assert run_rpod(env, "wait", "never", timeout=60).returncode == 0


def test_kill_signal_forms(clean: RpodEnv) -> None:
    env = clean
    script = ("trap 'echo got: 1' 1; trap 'echo got: 2' 2; trap 'echo got: 10' 10; echo READY; "
              "while ! test -e /stop; do sleep 0.05; done")
    ok(run_rpod(env, "run", "-d", "--name", "sig", "alpine", "sh", "-c", script))
    wait_for_log(env, "sig", "READY")
    for form, num in (("-1", 1), ("-INT", 2), ("-SIGUSR1", 10)):
        ok(run_rpod(env, "kill", "-s", form, "sig"))
        wait_for_log(env, "sig", f"got: {num}")
    for bad, shown in (("-0", "0"), ("-SIGBADSIG", "SIGBADSIG"), ("-", "")):
        r = run_rpod(env, "kill", "-s", bad, "nosuchcontainer")
        assert (r.returncode, r.stderr) == (125, f"Error: invalid signal: {shown}\n")
    r = run_rpod(env, "kill", "-s", "-65", "nosuchcontainer")
    assert (r.returncode, r.stderr) == (125, "Error: valid signals are 1 through 64\n")


def test_stop_shows_stopping_and_takes_timeout(clean: RpodEnv) -> None:
    env = clean
    script = "trap 'echo Received SIGTERM, ignoring' TERM; echo READY; while :; do sleep 0.2; done"
    ok(run_rpod(env, "run", "-d", "--name", "stopme", "alpine", "sh", "-c", script))
    wait_for_log(env, "stopme", "READY")
    stopper = subprocess.Popen([sys.executable, "-m", "rpod", "stop", "-t", "60", "stopme"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=env.get("HOME"))
    try:
        wait_for_log(env, "stopme", "Received SIGTERM, ignoring")
        assert wait_until(lambda: ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "stopme")).stdout
                          == "stopping\n", timeout=30)
        assert "Up " in ok(run_rpod(env, "ps", "--format", "{{.Status}}")).stdout  # ps is not blocked
        ok(run_rpod(env, "kill", "stopme"))  # a stopping container can still be killed
        assert ok(run_rpod(env, "wait", "stopme")).stdout == "137\n"
    finally:
        stopper.wait(timeout=60)
    assert ok(run_rpod(env, "inspect", "--format", "{{.State.Status}}", "stopme")).stdout == "exited\n"
    # Docker's --timeout is stop's other name for --time
    ok(run_rpod(env, "run", "-d", "--name", "quick", "alpine", "sleep", "100"))
    assert ok(run_rpod(env, "stop", "--timeout=0", "quick")).stdout == "quick\n"


def test_volume_export_import_rm_prune(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    for v in ("vx1", "vx2", "vx3"):
        ok(run_rpod(env, "volume", "create", v))
    ok(run_rpod(env, "run", "--rm", "-v", "vx1:/data", "alpine", "sh", "-c", "mkdir -p /data/d; echo hello > /data/d/t"))
    tarball = tmp_path / "vx1.tar"
    ok(run_rpod(env, "volume", "export", "vx1", f"--output={tarball}"))
    ok(run_rpod(env, "volume", "import", "vx2", str(tarball)))
    assert ok(run_rpod(env, "run", "--rm", "-v", "vx2:/data", "alpine", "cat", "/data/d/t")).stdout == "hello\n"
    # the same mount twice is one mount; two sources on one destination is Podman's error
    ok(run_rpod(env, "run", "--rm", "-v", "vx1:/v", "-v", "vx1:/v", "alpine", "true"))
    r = run_rpod(env, "run", "--rm", "-v", "vx1:/v", "-v", "vx2:/v", "alpine", "true")
    assert (r.returncode, r.stderr) == (125, "Error: /v: duplicate mount destination\n")
    # prune without --force lists what it would remove on stdout, then asks; N keeps them
    ok(run_rpod(env, "create", "--name", "user1", "-v", "vx1:/v", "alpine", "true"))
    r = ok(run_rpod(env, "volume", "prune", input="N\n"))
    lines = r.stdout.splitlines()
    assert lines[0].startswith("WARNING! This will remove all volumes not used by at least one container.")
    assert sorted(lines[1:3]) == ["vx2", "vx3"] and lines[3] == "Are you sure you want to continue? [y/N] "
    assert ok(run_rpod(env, "volume", "exists", "vx3")).returncode == 0
    # rm --force of a missing volume is silent and succeeds; without --force: exit 1
    r = run_rpod(env, "volume", "rm", "bogus")
    assert (r.returncode, r.stderr) == (1, 'Error: no volume with name "bogus" found: no such volume\n')
    r = ok(run_rpod(env, "volume", "rm", "--force", "-t", "0", "bogus"))
    assert (r.stdout, r.stderr) == ("", "")
    ok(run_rpod(env, "rm", "user1"))
    ok(run_rpod(env, "volume", "rm", "vx1", "vx2", "vx3"))


def test_volume_needs_copy_up_until_content(clean: RpodEnv) -> None:
    env = clean
    ok(run_rpod(env, "volume", "create", "cu"))
    fmt = ("volume", "inspect", "--format", "{{.NeedsCopyUp}} {{.NeedsChown}}", "cu")
    assert ok(run_rpod(env, *fmt)).stdout == "true true\n"
    ok(run_rpod(env, "run", "--rm", "-v", "cu:/nothing-here", "alpine", "true"))  # nothing to copy yet
    assert ok(run_rpod(env, *fmt)).stdout == "true false\n"
    ok(run_rpod(env, "run", "--rm", "-v", "cu:/etc", "alpine", "ls", "/etc/passwd"))
    assert ok(run_rpod(env, *fmt)).stdout == "false false\n"
    path = ok(run_rpod(env, "volume", "inspect", "--format", "{{.Mountpoint}}", "cu")).stdout.strip()
    assert (Path(path) / "passwd").is_file()
    ok(run_rpod(env, "volume", "rm", "cu"))


def test_info_fields_scripts_read(env: RpodEnv) -> None:
    fmt = ("{{.Host.BuildahVersion}}|{{.Host.Conmon.Path}}|{{.Host.OCIRuntime.Path}}|{{.Host.LogDriver}}|"
           "{{.Host.EventLogger}}|{{.Host.Distribution.Distribution}}")
    build, conmon, runtime, logdriver, events, distro = ok(run_rpod(env, "info", "--format", fmt)).stdout.strip().split("|")
    assert re.fullmatch(r"[1-9][0-9]*\.[0-9.]+.*", build)
    assert os.path.isdir(conmon) and os.access(runtime, os.X_OK) and os.path.basename(runtime) == "rpod-runtime"
    assert (logdriver, events) == ("k8s-file", "file") and distro
    r = run_rpod(env, "--log-level=trace", "info", "--format", "{{.Host.Arch}}")
    assert " level=trace " in r.stderr and " level=debug " in r.stderr and " level=info " in r.stderr
    assert " level=trace " not in run_rpod(env, "--log-level=debug", "info", "--format", "x").stderr


def test_info_graph_options_follow_podmans_precedence(env: RpodEnv, tmp_path: Path) -> None:
    """--storage-opt gives the driver's options; --root or --storage-driver alone drop the default ones."""
    fmt = ("info", "--format", "{{ .Store.GraphOptions }}")
    assert "overlay.driver:" in ok(run_rpod(env, *fmt)).stdout
    other = str(tmp_path / "nothing-here")
    assert ok(run_rpod(env, "--storage-driver=vfs", "--root", other, *fmt)).stdout == "map[]\n"
    assert ok(run_rpod(env, "--storage-driver=overlay", *fmt)).stdout == "map[]\n"
    r = ok(run_rpod(env, "--root", other, "--storage-opt", "overlay.mountopt=nodev,metacopy=on", *fmt))
    assert r.stdout == "map[overlay.mountopt:nodev,metacopy=on]\n"


def test_images_history_names_and_after_filter(clean: RpodEnv) -> None:
    env = clean
    base = ok(run_rpod(env, "inspect", "--format", "{{.ID}}", "alpine")).stdout.strip()
    assert ok(run_rpod(env, "images", "--noheading", f"--filter=after={base}")).stdout == ""
    ok(run_rpod(env, "run", "--name", "src", "alpine", "true"))
    ok(run_rpod(env, "commit", "-q", "src", "hist-img"))
    new = ok(run_rpod(env, "inspect", "--format", "{{.ID}}", "hist-img")).stdout.strip()
    fmt = ("--noheading", "--no-trunc", "--format", "{{.ID}}")
    assert ok(run_rpod(env, "images", *fmt, f"--filter=after={base}")).stdout == f"sha256:{new}\n"
    assert ok(run_rpod(env, "images", *fmt, f"--filter=since={base}")).stdout == f"sha256:{new}\n"
    hist = ("images", "hist-img", "--format", "{{ .History }}")
    assert ok(run_rpod(env, *hist)).stdout == "localhost/hist-img:latest\n"
    ok(run_rpod(env, "tag", "hist-img", "hist-one"))
    ok(run_rpod(env, "rmi", "hist-one"))
    assert ok(run_rpod(env, *hist)).stdout == "localhost/hist-img:latest, localhost/hist-one:latest\n"
    ok(run_rpod(env, "tag", "hist-img", "hist-two"))
    ok(run_rpod(env, "rmi", "hist-two"))
    assert ok(run_rpod(env, *hist)).stdout == \
        "localhost/hist-img:latest, localhost/hist-two:latest, localhost/hist-one:latest\n"
    # history's CreatedAt is Go's time.String() form, as images' is
    listed = ok(run_rpod(env, "images", "--format", "{{.CreatedSince}}--{{.CreatedAt}}", "alpine")).stdout
    first = ok(run_rpod(env, "image", "history", "--format", "{{.CreatedSince}}--{{.CreatedAt}}", "alpine")).stdout
    assert re.fullmatch(r".+--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", first.splitlines()[0])
    assert first.splitlines()[0].split("--")[1] == listed.strip().split("--")[1]
    ok(run_rpod(env, "rmi", "hist-img"))


def test_chown_volume_option_reapplied_at_start(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    src = tmp_path / "udir"
    src.mkdir()
    (src / "test1").write_text("x")
    ok(run_rpod(env, "run", "--name", "user", "--user", "1000:2000", "-v", f"{src}:/data:U", "alpine",
                "stat", "-c", "%u:%g", "/data"))
    assert ok(run_rpod(env, "logs", "user")).stdout == "1000:2000\n"
    ok(run_rpod(env, "unshare", "chown", "-R", "100:200", str(src)))  # the top directory changed: chown again
    assert ok(run_rpod(env, "start", "--attach", "user")).stdout == "1000:2000\n"
    ok(run_rpod(env, "unshare", "chown", "-R", "100:200", str(src / "test1")))  # only a file: left alone
    assert ok(run_rpod(env, "start", "--attach", "user")).stdout == "1000:2000\n"
    assert ok(run_rpod(env, "unshare", "stat", "-c", "%u:%g", str(src / "test1"))).stdout == "100:200\n"
    ok(run_rpod(env, "unshare", "rm", "-rf", str(src)))


def test_volume_backed_by_tmpfs_or_a_directory(clean: RpodEnv, tmp_path: Path) -> None:
    env = clean
    r = run_rpod(env, "volume", "create", "-o", "type=bind", "-o", "device=/bogus", "vb")
    assert (r.returncode, r.stderr) == (
        125, "Error: invalid volume option device for driver 'local': stat /bogus: no such file or directory\n")
    host = tmp_path / "vbdir"
    host.mkdir()
    (host / "myfile").write_text("")
    ok(run_rpod(env, "volume", "create", "-o", "type=bind", "-o", f"device={host}", "vb"))
    out = ok(run_rpod(env, "run", "--rm", "-v", "vb:/vol:z", "alpine", "sh", "-c",
                      "stat -c %u:%s /vol/myfile; touch /vol/fromctr")).stdout
    assert out == "0:0\n" and (host / "fromctr").exists()
    ok(run_rpod(env, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "vt"))
    assert ok(run_rpod(env, "run", "--rm", "-v", "vt:/vol", "alpine", "stat", "-f", "-c", "%T", "/vol")).stdout \
        == "tmpfs\n"
    ok(run_rpod(env, "volume", "rm", "vb", "vt"))
    assert (host / "myfile").exists()  # removing the volume leaves the directory it used
