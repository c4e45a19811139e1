"""The event log as containers.conf configures it (Podman 4.3.1's 090-events.bats): the file's
path (``events_logfile_path``), its rotation (``events_logfile_max_size``: the second half kept,
a ``system log-rotation`` event), Podman-written lines read back, the "none" backend refused by
``events``, and a follower that keeps following across a rotation. Real containers throughout."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod

NONE_ERROR = 'Error: cannot read events with the "none" backend\n'


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


@pytest.fixture
def conf_env(env: RpodEnv, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, Path]]:
    """The module's store with a ``CONTAINERS_CONF`` (written by the test) and an events file path."""
    e = dict(env)
    conf = tmp_path / "containers.conf"
    e["CONTAINERS_CONF"] = str(conf)
    yield e, conf, tmp_path / "events.log"
    run_rpod(env, "rm", "-f", "-a", "-t", "0")


def _podman_lines(n: int) -> str:
    """``n`` lines as Podman 4.3.1's file backend writes them (113 bytes each)."""
    return "".join(f'{{"Name":"busybox","Status":"pull","Time":"2022-04-06T11:26:42.7236679{i:02d}+02:00",'
                   '"Type":"image","Attributes":null}\n' for i in range(n))


def test_events_logfile_path(conf_env: tuple[dict[str, str], Path, Path]) -> None:
    e, conf, events_file = conf_env
    conf.write_text(f'[engine]\nevents_logfile_path = "{events_file}"\n')
    # the CLI's events and the monitor's (a detached container's death) both go to the file
    cid = ok(run_rpod(e, "run", "-d", "--name", "evpath", "alpine", "true")).stdout.strip()
    ok(run_rpod(e, "wait", cid))
    ok(run_rpod(e, "rm", cid))
    actions = [json.loads(ln)["Status"] for ln in events_file.read_text().splitlines()]
    assert actions == ["create", "start", "died", "remove"]
    out = ok(run_rpod(e, "events", "--stream=false", "--format", "{{.Status}} {{.Name}}")).stdout
    assert out == "create evpath\nstart evpath\ndied evpath\nremove evpath\n"
    # without the setting the store's own log is used: these events are not in it
    del e["CONTAINERS_CONF"]
    out = ok(run_rpod(e, "events", "--stream=false", "--filter", "container=evpath")).stdout
    assert out == ""


def test_rotation_keeps_the_second_half(conf_env: tuple[dict[str, str], Path, Path]) -> None:
    e, conf, events_file = conf_env
    cid = ok(run_rpod(e, "create", "alpine", "true")).stdout.strip()  # not configured yet
    conf.write_text(f'[engine]\nevents_logger = "file"\nevents_logfile_path = "{events_file}"\n')
    # no limit set: Podman's default (1m) is far away; a missing file is no error and no hang
    assert ok(run_rpod(e, "events", "--stream=false")).stdout == ""
    events_file.write_text(_podman_lines(100))
    before = events_file.read_text()
    other = ok(run_rpod(e, "create", "alpine", "true")).stdout.strip()
    assert events_file.read_text().startswith(before)
    events_file.write_text(before)
    # a limit below the file's size: the lines after its middle are kept (the middle falls on
    # line 50's start; Podman's reader drops the line it lands in), then the rotation and the event
    conf.write_text(conf.read_text() + "events_logfile_max_size = 4750\n")
    ok(run_rpod(e, "rm", cid))
    lines = events_file.read_text().splitlines()
    assert lines[:49] == before.splitlines()[51:]
    rotation, removal = json.loads(lines[49]), json.loads(lines[50])
    assert (rotation["Type"], rotation["Status"], rotation["Name"]) == ("system", "log-rotation", str(events_file))
    assert (removal["Status"], removal["ID"]) == ("remove", cid) and len(lines) == 51
    # Podman's lines (no rpod extras, a +02:00 zone) are read back, filtered by time
    out = ok(run_rpod(e, "events", "--stream=false", "--since", "2022-03-06T11:26:42.723667984+02:00")).stdout
    got = out.splitlines()
    assert len(got) == 51 and got[-2].endswith(f" system log-rotation {events_file}")
    assert got[0].startswith("2022-04-06 09:26:42.723667951 +0000 UTC image pull  busybox")
    out = ok(run_rpod(e, "events", "--stream=false", "--until", "2022-04-06T11:26:42.723667960+02:00")).stdout
    assert len(out.splitlines()) == 9  # 951..959
    # a size with a unit (go-units, decimal): 1k is 1000 bytes
    conf.write_text(f'[engine]\nevents_logfile_path = "{events_file}"\nevents_logfile_max_size = "1k"\n')
    events_file.write_text(_podman_lines(20))
    ok(run_rpod(e, "rm", other))
    lines = events_file.read_text().splitlines()
    assert lines[:9] == _podman_lines(20).splitlines()[11:] and len(lines) == 11
    assert json.loads(lines[9])["Status"] == "log-rotation"


def test_none_backend(conf_env: tuple[dict[str, str], Path, Path]) -> None:
    e, conf, events_file = conf_env
    for args in ((), ("--stream=false",)):
        r = run_rpod(e, "--events-backend", "none", "events", *args, timeout=60)
        assert (r.returncode, r.stdout, r.stderr) == (125, "", NONE_ERROR)
    # events_logger = "none" in containers.conf: nothing is written, not even by the monitor
    conf.write_text(f'[engine]\nevents_logger = "none"\nevents_logfile_path = "{events_file}"\n')
    cid = ok(run_rpod(e, "run", "-d", "alpine", "true")).stdout.strip()
    ok(run_rpod(e, "wait", cid))
    ok(run_rpod(e, "rm", cid))
    assert not events_file.exists()
    r = run_rpod(e, "events", "--stream=false")
    assert (r.returncode, r.stderr) == (125, NONE_ERROR)
    assert ok(run_rpod(e, "info", "--format", "{{.Host.EventLogger}}")).stdout == "none\n"
    # the flag wins over the file
    assert ok(run_rpod(e, "--events-backend", "file", "events", "--stream=false")).returncode == 0


def test_follow_across_rotation(conf_env: tuple[dict[str, str], Path, Path]) -> None:
    e, conf, events_file = conf_env
    conf.write_text(f'[engine]\nevents_logfile_path = "{events_file}"\nevents_logfile_max_size = 4750\n')
    events_file.write_text(_podman_lines(10))
    # a stream without --since starts at the end (Podman); with it, from the start of the file
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "events", "--since", "30m", "--filter", "event=create",
                             "--format", "{{.Name}}"],
                            env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ok(run_rpod(e, "create", "--name", "first", "alpine", "true"))
        assert select.select([proc.stdout], [], [], 30)[0], "events did not print the first event"
        assert proc.stdout.readline() == "first\n"  # the follower has the file open
        with events_file.open("a") as f:  # fill it up to just below the limit
            f.write(_podman_lines(max(0, (4700 - events_file.stat().st_size) // 113)))
        ok(run_rpod(e, "create", "--name", "rotating", "alpine", "true"))
        assert '"Status":"log-rotation"' in events_file.read_text()
        assert select.select([proc.stdout], [], [], 30)[0], "events did not print the event after the rotation"
        assert proc.stdout.readline() == "rotating\n"
        ok(run_rpod(e, "create", "--name", "after", "alpine", "true"))
        assert select.select([proc.stdout], [], [], 30)[0], "events stopped following the new file"
        assert proc.stdout.readline() == "after\n"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_stream_without_since_shows_new_events_only(env: RpodEnv) -> None:
    ok(run_rpod(env, "create", "--name", "old-one", "alpine", "true"))
    ok(run_rpod(env, "rm", "old-one"))  # an event already in the log: a stream must not show it
    proc = subprocess.Popen([sys.executable, "-m", "rpod", "events", "--filter", "event=remove",
                             "--format", "{{.Name}}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # remove new containers until the follower (started at some point) prints one
        for i in range(20):
            ok(run_rpod(env, "create", "--name", f"new-{i}", "alpine", "true"))
            ok(run_rpod(env, "rm", f"new-{i}"))
            if select.select([proc.stdout], [], [], 1.5)[0]:
                break
        assert proc.stdout.readline().startswith("new-")
    finally:
        proc.kill()
        proc.wait(timeout=10)
