"""``rpod manifest``: build a list from a local image and a remote multi-arch index, push it, and
let skopeo read the pushed list and every instance."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.images import ALPINE_X86_64, ImageSet
from tests.support.registry import Registry, skopeo
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_manifest_create_add_annotate_push(rpod_env: RpodEnv, registry: Registry, images: ImageSet,
                                           tmp_path: Path) -> None:
    env = rpod_env
    list_id = ok(run_rpod(env, "manifest", "create", "mylist")).stdout.strip()
    assert len(list_id) == 64
    assert json.loads(ok(run_rpod(env, "manifest", "inspect", "mylist")).stdout) == {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": None}
    rows = ok(run_rpod(env, "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}} {{.CreatedSince}}")).stdout
    assert f"localhost/mylist latest {list_id[:12]} " in rows  # a list shows as an image, as in Podman 4.3.1
    listed = json.loads(ok(run_rpod(env, "images", "--format", "json")).stdout)
    mine = next(x for x in listed if x["Id"] == list_id)
    assert mine["Names"] == ["localhost/mylist:latest"] and mine["Digest"].startswith("sha256:")
    assert mine["RepoDigests"] == [f"localhost/mylist@{mine['Digest']}"] and mine["Size"] > 0
    dup = run_rpod(env, "manifest", "create", "mylist")
    assert dup.returncode == 125 and "already associated" in dup.stderr
    ok(run_rpod(env, "import", "-q", str(ALPINE_X86_64), "alpimp"))
    assert ok(run_rpod(env, "manifest", "add", "mylist", "containers-storage:alpimp")).stdout.strip() == list_id
    ok(run_rpod(env, "manifest", "add", "--all", "--tls-verify=false", "mylist",
                f"docker://{images.ref('multiarch')}"))
    doc = json.loads(ok(run_rpod(env, "manifest", "inspect", "mylist")).stdout)
    assert len(doc["manifests"]) == 3
    local = doc["manifests"][0]["digest"]
    ok(run_rpod(env, "manifest", "annotate", "--annotation", "a=b", "--os-version", "1.0", "mylist", local))
    doc = json.loads(ok(run_rpod(env, "manifest", "inspect", "mylist")).stdout)
    assert doc["manifests"][0]["annotations"] == {"a": "b"}
    assert doc["manifests"][0]["platform"]["os.version"] == "1.0"
    arm = next(d["digest"] for d in doc["manifests"] if d["platform"]["architecture"] == "arm64")
    ok(run_rpod(env, "manifest", "remove", "mylist", arm))
    dest = f"{registry.address}/lists/app:1"
    ok(run_rpod(env, "manifest", "push", "--tls-verify=false", "--digestfile", str(tmp_path / "d"), "mylist", dest))
    raw = json.loads(skopeo(["inspect", "--raw", "--tls-verify=false", f"docker://{dest}"], tmp_path).stdout)
    assert [d["digest"] for d in raw["manifests"]] == [d["digest"] for d in doc["manifests"] if d["digest"] != arm]
    for d in raw["manifests"]:  # every instance is there, with its config
        skopeo(["inspect", "--config", "--tls-verify=false", f"docker://{registry.address}/lists/app@{d['digest']}"],
               tmp_path)
    assert (tmp_path / "d").read_text().startswith("sha256:")
    assert ok(run_rpod(env, "manifest", "exists", "mylist")).returncode == 0
    out = ok(run_rpod(env, "manifest", "rm", "mylist")).stdout
    assert out == f"Untagged: localhost/mylist:latest\nDeleted: {list_id}\n"
    assert run_rpod(env, "manifest", "exists", "mylist").returncode == 1
    # a list in a registry can be inspected without a local one
    remote = json.loads(ok(run_rpod(env, "manifest", "inspect", "--tls-verify=false", dest)).stdout)
    assert remote == raw


def test_rmi_removes_a_manifest_list(rpod_env: RpodEnv) -> None:
    list_id = ok(run_rpod(rpod_env, "manifest", "create", "gonelist")).stdout.strip()
    out = ok(run_rpod(rpod_env, "rmi", "gonelist")).stdout
    assert out == f"Untagged: localhost/gonelist:latest\nDeleted: {list_id}\n"
    assert "gonelist" not in ok(run_rpod(rpod_env, "images")).stdout
    assert run_rpod(rpod_env, "manifest", "exists", "gonelist").returncode == 1
