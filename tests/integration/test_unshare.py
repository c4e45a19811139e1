"""``rpod unshare``: a command as root of the user's default namespace, compared with Podman 4.3.1."""

from __future__ import annotations

import os
from pathlib import Path

from rootless.subid import default_mapping
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _expected(maps: tuple) -> list[list[int]]:
    return [[m.container_id, m.host_id, m.size] for m in maps]


def test_unshare_maps_and_root(rpod_env: RpodEnv) -> None:
    r = ok(run_rpod(rpod_env, "unshare", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map; echo --; "
                    "cat /proc/self/gid_map; echo --; echo $CONTAINERS_GRAPHROOT"))
    ids, gid_map, root = r.stdout.split("--\n")
    assert ids.splitlines()[:2] == ["0", "0"]
    mapping = default_mapping()
    assert [[int(x) for x in ln.split()] for ln in ids.splitlines()[2:]] == _expected(mapping.uid_map)
    assert [[int(x) for x in ln.split()] for ln in gid_map.splitlines()] == _expected(mapping.gid_map)
    assert root.strip() == str(Path(rpod_env["XDG_DATA_HOME"]) / "rpod")


def test_unshare_sees_the_store_as_container_root(env: RpodEnv) -> None:
    layers = Path(env["XDG_DATA_HOME"]) / "rpod" / "layers"
    passwd = next(layers.glob("*/diff/etc/passwd"))
    assert passwd.stat().st_uid == os.getuid()  # host view: the image's root is the user
    shadow = passwd.parent / "shadow"
    r = ok(run_rpod(env, "unshare", "stat", "-c", "%u:%g", str(passwd), str(shadow)))
    assert r.stdout.splitlines() == ["0:0", "0:42"]


def test_unshare_exit_codes(rpod_env: RpodEnv) -> None:
    assert run_rpod(rpod_env, "unshare", "sh", "-c", "exit 3").returncode == 3
    r = run_rpod(rpod_env, "unshare", "no-such-command")
    assert r.returncode == 127
    assert r.stderr == 'Error: exec: "no-such-command": executable file not found in $PATH\n'
    assert run_rpod(rpod_env, "unshare", "sh", "-c", "kill -TERM $$").returncode == 255
