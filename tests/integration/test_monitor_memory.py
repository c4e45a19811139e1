"""The monitor's memory: the PSS of real idle containers' monitors stays under a bound.

``RPODTEST_MONITORS=20`` (e.g. ``UTEST_ENV=RPODTEST_MONITORS=20 utest ...``) measures 20 idle
containers, as docs/performance.md ("The monitor's memory") does; the default 4 keeps the test
fast.  PSS is not timing-dependent once a monitor settled (its runtime child exited): what it
imported and built stays.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.procs import wait_until
from tests.support.rpodcli import RpodEnv, ok, run_rpod

# Measured (3 Dec 2026, 20 idle containers): 3312 kB PSS per monitor with --network none, 3510 kB
# with slirp4netns (4736 and 7783 kB before the monitor and its network helpers dropped enum,
# contextlib, selectors, collections, subprocess, json, dataclasses, typing); 4 containers share
# libpython's pages among fewer processes, so each shows a little more.  ~20 % headroom.
PSS_BOUND_KB = 4100


def _rollup(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        k, _, v = line.partition(":")
        if v.strip().endswith("kB"):
            fields[k] = int(v.split()[0])
    return fields


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_idle_monitors_stay_small(env: RpodEnv) -> None:
    count = int(os.environ.get("RPODTEST_MONITORS", "4"))
    network = os.environ.get("RPODTEST_MONITOR_NETWORK", "none")
    ok(run_rpod(env, "run", "--rm", "--network", network, "alpine", "true"))  # byte-compiles what runs
    cids = []
    try:
        for _ in range(count):
            cids.append(ok(run_rpod(env, "run", "-d", "--network", network, "alpine", "sleep", "1000")).stdout.strip())
        monitors, helpers = {}, []
        for cid in cids:
            mon = int(ok(run_rpod(env, "inspect", "--format", "{{.State.ConmonPid}}", cid)).stdout)
            init = int(ok(run_rpod(env, "inspect", "--format", "{{.State.Pid}}", cid)).stdout)
            # settled: the runtime child exited, only the container's init (and its network helper) is left
            want = 1 if network == "none" else 2
            assert wait_until(lambda mon=mon, init=init, want=want: init in _children(mon) and len(_children(mon)) == want,
                              60), _children(mon)
            monitors[cid] = mon
            helpers += [p for p in _children(mon) if p != init]
        rollups = [_rollup(mon) for mon in monitors.values()]
        pss = [r["Pss"] for r in rollups]
        uss = [r["Private_Clean"] + r["Private_Dirty"] for r in rollups]
        extra = sum(_rollup(p)["Pss"] for p in helpers)
        print(f"\n{count} idle monitors (--network {network}): PSS {sum(pss)} kB in all, per monitor mean "
              f"{sum(pss) // count} kB (min {min(pss)}, max {max(pss)}), USS mean {sum(uss) // count} kB; "
              f"helpers {len(helpers)}, PSS {extra} kB in all")
        assert max(pss) < PSS_BOUND_KB, pss
    finally:
        if cids:
            run_rpod(env, "rm", "-f", "-t", "0", *cids, timeout=180)
