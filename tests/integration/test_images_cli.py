"""``rpod images``, ``image inspect``, ``tag``/``untag``/``rmi``/``image prune`` and ``info`` on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture
def pulled(rpod_env: RpodEnv, images: ImageSet) -> RpodEnv:
    """A store holding alpine:3.20 and busybox."""
    ok(run_rpod(rpod_env, "pull", "-q", "alpine:3.20", "busybox"))
    return rpod_env


def store(env: RpodEnv) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "rpod"


def test_images_table_like_podman(pulled: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(pulled, "images"))
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    reg = images.registry.address
    rows = {ln.split()[0] + ":" + ln.split()[1]: ln for ln in lines[1:]}
    assert set(rows) == {f"{reg}/alpine:3.20", f"{reg}/busybox:latest"}
    assert images["alpine"].image_id[:12] in rows[f"{reg}/alpine:3.20"]
    assert "MB" in rows[f"{reg}/alpine:3.20"]
    # columns are aligned: every row starts its IMAGE ID at the same offset
    col = lines[0].index("IMAGE ID")
    assert all(ln[col:col + 12] in (images["alpine"].image_id[:12], images["busybox"].image_id[:12])
               for ln in lines[1:])


def test_images_quiet_digests_notrunc_noheading(pulled: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(pulled, "images", "-q"))
    assert sorted(r.stdout.split()) == sorted([images["alpine"].image_id[:12], images["busybox"].image_id[:12]])
    r = ok(run_rpod(pulled, "images", "-q", "--no-trunc"))
    assert f"sha256:{images['alpine'].image_id}" in r.stdout.split()
    r = ok(run_rpod(pulled, "images", "--digests"))
    assert "DIGEST" in r.stdout.splitlines()[0]
    assert images["alpine"].digest in r.stdout
    r = ok(run_rpod(pulled, "images", "--noheading"))
    assert "REPOSITORY" not in r.stdout and len(r.stdout.splitlines()) == 2


def test_images_format_template_and_json(pulled: RpodEnv, images: ImageSet) -> None:
    reg = images.registry.address
    r = ok(run_rpod(pulled, "images", "--format", "{{.Repository}}:{{.Tag}}"))
    assert sorted(r.stdout.splitlines()) == [f"{reg}/alpine:3.20", f"{reg}/busybox:latest"]
    r = ok(run_rpod(pulled, "images", "--format", "table {{.ID}} {{.Repository}}"))
    assert r.stdout.splitlines()[0].split() == ["IMAGE", "ID", "REPOSITORY"]
    r = ok(run_rpod(pulled, "images", "--format", "json"))
    doc = json.loads(r.stdout)
    alpine = next(d for d in doc if d["Id"] == images["alpine"].image_id)
    assert alpine["Names"] == [f"{reg}/alpine:3.20"]
    assert alpine["Digest"] == images["alpine"].digest
    assert isinstance(alpine["Size"], int) and alpine["Size"] > 1_000_000
    r = run_rpod(pulled, "images", "--format", "{{.Nope}}")
    assert r.returncode == 125
    assert "can't evaluate field Nope" in r.stderr


def test_images_filters(pulled: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(pulled, "images", "-q", "--filter", "reference=alpine"))
    assert r.stdout.split() == [images["alpine"].image_id[:12]]
    r = ok(run_rpod(pulled, "images", "-q", "busybox"))
    assert r.stdout.split() == [images["busybox"].image_id[:12]]
    r = ok(run_rpod(pulled, "images", "-q", "--filter", "dangling=true"))
    assert r.stdout == ""
    r = run_rpod(pulled, "images", "--filter", "bogus=1")
    assert r.returncode == 125
    # an image with two names: ``images NAME`` lists the row of that name only (120-load)
    ok(run_rpod(pulled, "tag", "busybox", "localhost/x0second:t0"))
    try:
        fmt = ("--format", "{{.Repository}}:{{.Tag}}")
        assert ok(run_rpod(pulled, "images", "localhost/x0second:t0", *fmt)).stdout == "localhost/x0second:t0\n"
        both = ok(run_rpod(pulled, "images", *fmt)).stdout.splitlines()
        assert "localhost/x0second:t0" in both and any(n.endswith("/busybox:latest") for n in both)
    finally:
        ok(run_rpod(pulled, "rmi", "localhost/x0second:t0"))


def test_image_inspect_podman_keys(pulled: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(pulled, "image", "inspect", "alpine:3.20"))
    doc = json.loads(r.stdout)
    assert isinstance(doc, list) and len(doc) == 1
    d = doc[0]
    assert d["Id"] == images["alpine"].image_id
    assert d["Config"]["Cmd"] == ["/bin/sh"]
    assert d["RootFS"]["Layers"] == list(images["alpine"].diff_ids)
    assert d["Architecture"] == "amd64" and d["Os"] == "linux"
    assert d["GraphDriver"]["Name"] == "overlay"
    assert Path(d["GraphDriver"]["Data"]["UpperDir"]).is_dir()
    r = ok(run_rpod(pulled, "image", "inspect", "--format", "{{.Config.Cmd}} {{.Os}}", "alpine:3.20"))
    assert r.stdout == "[/bin/sh] linux\n"
    r = run_rpod(pulled, "image", "inspect", "nosuchimage")
    assert r.returncode == 125 and "nosuchimage" in r.stderr
    assert ok(run_rpod(pulled, "image", "exists", "alpine:3.20")).returncode == 0
    assert run_rpod(pulled, "image", "exists", "nosuchimage").returncode == 1


def test_tag_untag_rmi_and_layer_cleanup(pulled: RpodEnv, images: ImageSet) -> None:
    alpine = images["alpine"]
    ok(run_rpod(pulled, "tag", "alpine:3.20", "mine", "example.com/team/mine:v1"))
    r = ok(run_rpod(pulled, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                    f"id={alpine.image_id}"))
    assert {"localhost/mine:latest", "example.com/team/mine:v1"} <= set(r.stdout.split())
    ok(run_rpod(pulled, "untag", "alpine:3.20", "example.com/team/mine:v1"))
    # rmi of one name of several only untags
    r = ok(run_rpod(pulled, "rmi", "mine"))
    assert r.stdout == "Untagged: localhost/mine:latest\n"
    layer = store(pulled) / "layers" / alpine.diff_ids[0].split(":", 1)[1]
    assert layer.is_dir()
    # by ID with one name left: untagged and deleted, layers gone from disk
    r = ok(run_rpod(pulled, "rmi", alpine.image_id[:12]))
    assert f"Deleted: {alpine.image_id}" in r.stdout
    assert not layer.exists()
    assert not (store(pulled) / "blobs" / "sha256" / alpine.image_id).exists()
    r = run_rpod(pulled, "rmi", "alpine:3.20")
    assert r.returncode == 1 and "image not known" in r.stderr
    assert ok(run_rpod(pulled, "rmi", "-i", "alpine:3.20")).returncode == 0


def test_rmi_by_id_with_several_names_needs_force(pulled: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(pulled, "tag", "busybox", "bb2"))
    bid = images["busybox"].image_id
    r = run_rpod(pulled, "rmi", bid[:12])
    assert r.returncode == 2 and "more than one tag" in r.stderr
    r = ok(run_rpod(pulled, "rmi", "-f", bid[:12]))
    assert f"Deleted: {bid}" in r.stdout


def test_image_prune_removes_dangling_then_unused(pulled: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(pulled, "untag", "busybox"))
    r = ok(run_rpod(pulled, "images", "-q", "--filter", "dangling=true"))
    assert r.stdout.split() == [images["busybox"].image_id[:12]]
    r = ok(run_rpod(pulled, "image", "prune", "-f"))
    assert r.stdout.split() == [images["busybox"].image_id]
    r = ok(run_rpod(pulled, "image", "prune", "-a", "-f"))
    assert r.stdout.split() == [images["alpine"].image_id]
    assert not any((store(pulled) / "layers").iterdir())


def test_info_reports_store_mapping_and_overlay(rpod_env: RpodEnv) -> None:
    r = ok(run_rpod(rpod_env, "info", "--format", "json"))
    doc = json.loads(r.stdout)
    assert doc["store"]["graphRoot"] == str(store(rpod_env))
    assert doc["store"]["runRoot"] == str(Path(rpod_env["XDG_RUNTIME_DIR"]) / "rpod")
    assert doc["host"]["idMappingMode"] == "subid"
    assert doc["host"]["idMappings"]["uidmap"][1]["size"] >= 65536
    assert doc["store"]["graphOptions"]["overlay.driver"] in ("kernel", "fuse")
    assert doc["host"]["security"]["rootless"] is True
    r = ok(run_rpod(rpod_env, "info", "--format", "{{.Store.GraphRoot}} {{.Host.Arch}}"))
    assert r.stdout == f"{store(rpod_env)} amd64\n"
    r = ok(run_rpod(rpod_env, "info"))
    assert "graphRoot:" in r.stdout and "idMappings:" in r.stdout


def test_runtime_dir_falls_back_when_xdg_runtime_dir_is_unusable(rpod_env: RpodEnv, tmp_path: Path) -> None:
    env = RpodEnv.__new__(RpodEnv)
    env.update(rpod_env)
    env["XDG_RUNTIME_DIR"] = "/run/user/0"  # not ours: rpod must not use it
    r = ok(run_rpod(env, "info", "--format", "{{.Store.RunRoot}}"))
    import os

    assert r.stdout.strip() == f"/tmp/rpod-run-{os.getuid()}"
    del env["XDG_RUNTIME_DIR"]
    r = ok(run_rpod(env, "info", "--format", "{{.Store.RunRoot}}"))
    assert r.stdout.strip() == f"/tmp/rpod-run-{os.getuid()}"


def test_shell_completion_offers_local_image_names(pulled: RpodEnv, images: ImageSet) -> None:
    from tests.unit.test_completions import complete

    words = complete("rpod rmi al", env=pulled)
    assert f"{images.registry.address}/alpine:3.20".split("/", 1)[1] in words or "alpine:3.20" in words


def test_rmi_refuses_an_image_a_container_uses_unless_forced(pulled: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(pulled, "create", "--name", "user-of-alpine", "alpine:3.20", "true"))
    r = run_rpod(pulled, "rmi", "alpine:3.20")
    assert r.returncode == 2
    assert "user-of-alpine" in r.stderr and "in use" in r.stderr
    r = ok(run_rpod(pulled, "rmi", "-f", "alpine:3.20"))
    assert f"Deleted: {images['alpine'].image_id}" in r.stdout
    assert ok(run_rpod(pulled, "ps", "-a", "-q")).stdout == ""


def test_system_reset_removes_everything(pulled: RpodEnv) -> None:
    ok(run_rpod(pulled, "run", "-d", "--name", "sleeper", "alpine:3.20", "sleep", "100"))
    ok(run_rpod(pulled, "system", "reset", "--force"))
    assert not store(pulled).exists()
    assert ok(run_rpod(pulled, "images", "-q")).stdout == ""
    assert ok(run_rpod(pulled, "ps", "-a", "-q")).stdout == ""
