"""rename, container prune, port, pause/unpause and top on real containers."""

from __future__ import annotations

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_rename_frees_old_name_and_refuses_taken_one(env: RpodEnv) -> None:
    # names with non-hex letters: a hex name could also be read as an id prefix
    cid = ok(run_rpod(env, "create", "--name", "old", "alpine", "true")).stdout.strip()
    ok(run_rpod(env, "create", "--name", "taken", "alpine", "true"))
    r = run_rpod(env, "rename", "old", "taken")
    assert r.returncode == 125
    assert "name taken already in use" in r.stderr
    assert run_rpod(env, "rename", "old", "bad name").returncode == 125
    assert run_rpod(env, "rename", "nosuch", "x").returncode == 125
    assert ok(run_rpod(env, "rename", "old", "new")).stdout == ""
    assert ok(run_rpod(env, "inspect", "-f", "{{.Name}} {{.Id}}", "new")).stdout == f"new {cid}\n"
    assert run_rpod(env, "inspect", "old").returncode == 125
    ok(run_rpod(env, "container", "rename", "new", "last"))
    ok(run_rpod(env, "create", "--name", "old", "alpine", "true"))  # the old name is free again
    ok(run_rpod(env, "start", "--attach", "last"))


def test_container_prune_removes_only_stopped(env: RpodEnv) -> None:
    done = ok(run_rpod(env, "run", "--name", "done", "alpine", "true")).stdout
    assert done == ""
    created = ok(run_rpod(env, "create", "--label", "keep=1", "--name", "kept", "alpine", "true")).stdout.strip()
    ok(run_rpod(env, "run", "-d", "--name", "up", "alpine", "sleep", "100"))
    try:
        done_id = ok(run_rpod(env, "inspect", "-f", "{{.Id}}", "done")).stdout.strip()
        r = ok(run_rpod(env, "container", "prune", input="n\n"))
        assert r.stdout == "" and "Are you sure" in r.stderr
        r = ok(run_rpod(env, "container", "prune", "-f", "--filter", "label!=keep"))
        assert r.stdout == done_id + "\n"
        r = ok(run_rpod(env, "container", "prune", "-f"))
        assert r.stdout == created + "\n"
        names = ok(run_rpod(env, "ps", "-a", "--format", "{{.Names}}")).stdout.split()
        assert names == ["up"]
        assert run_rpod(env, "container", "prune", "-f", "--filter", "bogus=1").returncode == 125
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "up"))


def test_top_port_pause(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "-d", "--name", "up", "alpine", "sh", "-c", "sleep 100 & exec sleep 200"))
    try:
        r = ok(run_rpod(env, "top", "up"))
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
        rows = sorted(ln.split()[:3] + [" ".join(ln.split()[7:])] for ln in lines[1:])
        assert rows[0] == ["root", "1", "0", "sleep 200"]
        assert len(rows) == 2 and rows[1][2] == "1" and rows[1][3] == "sleep 100"
        r = ok(run_rpod(env, "top", "up", "pid,args"))
        assert r.stdout.splitlines()[0].split() == ["PID", "COMMAND"]
        assert run_rpod(env, "top", "up", "nosuchdesc").returncode == 125
        assert ok(run_rpod(env, "port", "up")).stdout == ""
        r = run_rpod(env, "pause", "up")
        assert r.returncode == 125 and "can not pause containers on rootless containers" in r.stderr
        assert run_rpod(env, "unpause", "up").returncode == 125
        assert run_rpod(env, "pause", "nosuch").returncode == 125
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "up"))
    ok(run_rpod(env, "create", "--name", "idle", "alpine", "true"))
    r = run_rpod(env, "top", "idle")
    assert r.returncode == 125 and "running containers" in r.stderr


def _table(text: str) -> list[list[str]]:
    import re

    return [re.split(r"\s{2,}", ln.strip()) for ln in text.splitlines()]


def test_system_df_and_prune(rpod_env: RpodEnv, images: ImageSet) -> None:
    env = rpod_env  # one image only: the counts below are exact
    ok(run_rpod(env, "pull", "-q", "alpine"))
    image_id = ok(run_rpod(env, "images", "-q", "--no-trunc")).stdout.strip().removeprefix("sha256:")
    ok(run_rpod(env, "run", "--name", "done", "alpine", "sh", "-c", "head -c 50000 /dev/zero > /big"))
    done_id = ok(run_rpod(env, "inspect", "-f", "{{.Id}}", "done")).stdout.strip()
    ok(run_rpod(env, "volume", "create", "v1"))
    rows = _table(ok(run_rpod(env, "system", "df")).stdout)
    assert rows[0] == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [r[:3] for r in rows[1:]] == [["Images", "1", "1"], ["Containers", "1", "0"],
                                         ["Local Volumes", "1", "0"]]
    assert rows[1][4] == "0B (0%)"  # a container (even stopped) keeps its image in use
    assert rows[2][3] == "50kB" and rows[2][4] == "50kB (100%)"
    r = ok(run_rpod(env, "system", "df", "--format", "{{.Type}}={{.Total}}"))
    assert r.stdout == "Images=1\nContainers=1\nLocal Volumes=1\n"
    verbose = ok(run_rpod(env, "system", "df", "-v")).stdout
    assert "Images space usage:" in verbose and "Local Volumes space usage:" in verbose
    assert done_id[:12] in verbose and "v1" in verbose

    r = ok(run_rpod(env, "system", "prune", "-f"))
    assert r.stdout.startswith(f"Deleted Containers\n{done_id}\nTotal reclaimed space: ")
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == "v1\n"
    assert ok(run_rpod(env, "images", "-q")).stdout != ""  # tagged images are not dangling
    r = ok(run_rpod(env, "system", "prune", "-f", "--volumes"))
    assert r.stdout == "Deleted Volumes\nv1\nTotal reclaimed space: 0B\n"

    ok(run_rpod(env, "run", "-d", "--name", "up", "alpine", "sleep", "100"))
    try:
        assert "Deleted Images" not in ok(run_rpod(env, "system", "prune", "-f", "-a")).stdout
        rows = _table(ok(run_rpod(env, "system", "df")).stdout)
        assert [r[:3] for r in rows[1:3]] == [["Images", "1", "1"], ["Containers", "1", "1"]]
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "up"))
    r = ok(run_rpod(env, "system", "prune", "-f", "-a"))
    assert f"Deleted Images\n{image_id}\n" in r.stdout
    assert ok(run_rpod(env, "images", "-q")).stdout == ""
    layers = env.data_home / "rpod" / "layers"
    assert not layers.exists() or not any(layers.iterdir())


def test_events_log(env: RpodEnv) -> None:
    import json
    import time

    start = time.time()
    assert run_rpod(env, "run", "--name", "ev", "--label", "k=v", "alpine", "sh", "-c", "exit 3").returncode == 3
    cid = ok(run_rpod(env, "inspect", "-f", "{{.Id}}", "ev")).stdout.strip()
    ok(run_rpod(env, "rm", "ev"))
    r = ok(run_rpod(env, "events", "--stream=false", "--filter", "container=ev",
                    "--format", "{{.Type}} {{.Status}} {{.Name}} {{.ID}}"))
    assert r.stdout.splitlines() == [f"container {a} ev {cid}" for a in ("create", "start", "died", "remove")]
    lines = ok(run_rpod(env, "events", "--stream=false", "--format", "json", "--filter", "event=died")).stdout
    died = json.loads(lines.splitlines()[-1])
    assert died["ContainerExitCode"] == 3 and died["Attributes"] == {"k": "v"} and died["ID"] == cid
    human = ok(run_rpod(env, "events", "--stream=false", "--filter", "type=image")).stdout
    assert " +0000 UTC image pull " in human
    full = ok(run_rpod(env, "events", "--stream=false", "--filter", "event=create")).stdout
    assert f"UTC container create {cid} (image=" in full and ", name=ev, k=v)" in full  # Podman's order
    later = ok(run_rpod(env, "events", "--stream=false", "--since", str(time.time() + 1)))
    assert later.stdout == ""
    assert ok(run_rpod(env, "events", "--stream=false", "--until", str(start - 60))).stdout == ""
    assert run_rpod(env, "events", "--stream=false", "--filter", "bogus=1").returncode == 125


def test_events_stream_follows_new_events(env: RpodEnv) -> None:
    import select
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "rpod", "events", "--filter", "event=create",
                             "--format", "{{.Name}}", "--since", "1s"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ok(run_rpod(env, "create", "--name", "streamed", "alpine", "true"))
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 60)[0], "events did not print the new event in 60 s"
        assert proc.stdout.readline() == "streamed\n"
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait(timeout=10)
