"""The run path's shape: the monitor is spawned early but still names its container, stays lean
(no runtime core, no heavy stdlib modules in it), and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from tests.support.procs import pids_mentioning, wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _private_kb(pid: int) -> int:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        k, _, v = line.partition(":")
        if v.strip().endswith("kB"):
            fields[k] = int(v.split()[0])
    return fields["Private_Clean"] + fields["Private_Dirty"]


def test_monitor_names_its_container_and_stays_lean(env: RpodEnv) -> None:
    cid = ok(run_rpod(env, "run", "-d", "--network", "none", "alpine", "sleep", "60")).stdout.strip()
    try:
        mon = int(ok(run_rpod(env, "inspect", "--format", "{{.State.ConmonPid}}", cid)).stdout)
        assert mon in pids_mentioning(cid)  # the early-spawned monitor's argv carries the id
        # ~4.9 MB with compiled modules (9 MB when it ran the runtime in-process); the dev
        # checkout's sources are recompiled by the test user (no writable __pycache__): ~6.3 MB
        assert wait_until(lambda: _private_kb(mon) < 8000, 30), _private_kb(mon)  # once it settled
        # the runtime core ran in a child that exited: only the container's init is left
        children = [int(p) for p in Path(f"/proc/{mon}/task/{mon}/children").read_text().split()]
        init = int(ok(run_rpod(env, "inspect", "--format", "{{.State.Pid}}", cid)).stdout)
        assert children == [init]
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", cid))
    assert wait_until(lambda: not pids_mentioning(cid), 60), pids_mentioning(cid)


def test_failed_create_leaves_no_monitor(env: RpodEnv) -> None:
    before = set(pids_mentioning('"await_config": true'))
    r = run_rpod(env, "run", "--rm", "--pull=never", "no-such-image-here", "true")
    assert r.returncode == 125
    r = run_rpod(env, "run", "--rm", "--userns=keep-id", "--uidmap", "0:1:10", "alpine", "true")
    assert r.returncode == 125
    # a monitor started for a container that never came must see the CLI go and exit
    assert wait_until(lambda: not [p for p in pids_mentioning('"await_config": true') if p not in before
                                   and _parent_is_init_or_gone(p)], 30)


def _parent_is_init_or_gone(pid: int) -> bool:
    """Monitors double-fork: an orphaned early monitor is a child of init (or a subreaper) and
    still waits; ours all exited, so any such process from before is someone else's."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[2] == "1" and "/ctr.log" not in _fds(pid)


def _fds(pid: int) -> str:
    try:
        return " ".join(str(p.resolve()) for p in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return ""
