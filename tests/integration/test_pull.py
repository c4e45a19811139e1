"""``rpod pull`` against real registries (docker-registry) with skopeo-pushed images.

Each test looks at what a user sees (stdout, stderr, exit code) and at the store on
disk (layer directories, ownership, whiteouts, image records).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rootless.subid import default_mapping, map_id
from tests.support.images import ImageSet
from tests.support.registry import FlakyProxy, Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _host_uid(container_uid: int) -> int:
    """Host uid of a container uid under the default rootless map (root = the user)."""
    uid = map_id(default_mapping().uid_map, container_uid)
    assert uid is not None, "the test user needs a subuid range"
    return uid


def _host_gid(container_gid: int) -> int:
    gid = map_id(default_mapping().gid_map, container_gid)
    assert gid is not None, "the test user needs a subgid range"
    return gid


def store_root(env: RpodEnv) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "rpod"


def image_records(env: RpodEnv) -> list[dict]:
    db = store_root(env) / "images.json"
    return json.loads(db.read_text())["images"] if db.exists() else []


def layer_dir(env: RpodEnv, diff_id: str) -> Path:
    return store_root(env) / "layers" / diff_id.split(":", 1)[1]




# --------------------------------------------------------------------------- basics


def test_pull_short_name_quiet_prints_only_the_image_id(rpod_env: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(rpod_env, "pull", "-q", "alpine:3.20"))
    alpine = images["alpine"]
    assert r.stdout == alpine.image_id + "\n"
    assert r.stderr == ""
    recs = image_records(rpod_env)
    assert [rec["id"] for rec in recs] == [alpine.image_id]
    assert recs[0]["names"] == [f"{images.registry.address}/alpine:3.20"]
    assert recs[0]["layers"] == list(alpine.diff_ids)
    assert recs[0]["digest"] == alpine.digest
    for diff_id in alpine.diff_ids:
        info = json.loads((layer_dir(rpod_env, diff_id) / "layer.json").read_text())
        assert info["diff_id"] == diff_id
        assert (layer_dir(rpod_env, diff_id) / "diff" / "bin" / "busybox").is_file()
    # the compressed download is not kept once the layer is in the store
    assert not any((store_root(rpod_env) / "partial").iterdir())


def test_pull_progress_lines_when_not_a_terminal(rpod_env: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(rpod_env, "pull", "alpine"))
    assert r.stdout == images["alpine"].image_id + "\n"
    assert f"Trying to pull {images.registry.address}/alpine:latest..." in r.stderr
    assert f"Copying blob {images['alpine'].layer_digests[0]} done" in r.stderr
    assert "Writing manifest to image destination" in r.stderr
    # a second pull finds everything in the store
    r = ok(run_rpod(rpod_env, "pull", "alpine"))
    assert "skipped: already exists" in r.stderr


def test_pull_fully_qualified_and_by_digest(rpod_env: RpodEnv, images: ImageSet) -> None:
    alpine = images["alpine"]
    ref = f"{images.registry.address}/alpine@{alpine.digest}"
    r = ok(run_rpod(rpod_env, "pull", "-q", ref))
    assert r.stdout.strip() == alpine.image_id
    rec = image_records(rpod_env)[0]
    assert f"{images.registry.address}/alpine@{alpine.digest}" in rec["repo_digests"]
    assert rec["names"] == []  # pulled by digest only: no tag


def test_multiarch_index_selects_the_host_platform_or_the_asked_one(rpod_env: RpodEnv, images: ImageSet) -> None:
    multi = images["multiarch"]
    r = ok(run_rpod(rpod_env, "pull", "-q", "multiarch"))
    assert r.stdout.strip() == multi.platforms["linux/amd64"].image_id
    r = ok(run_rpod(rpod_env, "pull", "-q", "--arch", "arm64", "multiarch"))
    assert r.stdout.strip() == multi.platforms["linux/arm64/v8"].image_id
    layer = layer_dir(rpod_env, multi.platforms["linux/arm64/v8"].diff_ids[0]) / "diff"
    assert (layer / "bin" / "busybox").is_file()
    r = run_rpod(rpod_env, "pull", "--platform", "linux/s390x", "multiarch")
    assert r.returncode == 125
    assert "linux/s390x" in r.stderr and "linux/arm64" in r.stderr and "linux/amd64" in r.stderr


@pytest.mark.parametrize("name", ["zstd", "plain", "docker-v2s2"])
def test_pull_compressions_and_media_types(rpod_env: RpodEnv, images: ImageSet, name: str) -> None:
    img = images[name]
    r = ok(run_rpod(rpod_env, "pull", "-q", name))
    assert r.stdout.strip() == img.image_id
    for diff_id in img.diff_ids:
        assert (layer_dir(rpod_env, diff_id) / "layer.json").exists()
    top = layer_dir(rpod_env, img.diff_ids[-1]) / "diff" / "etc" / "rpod-variant"
    assert top.read_text().strip()


def test_busybox_hardlinks_stay_hardlinks(rpod_env: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(rpod_env, "pull", "-q", "busybox"))
    root = layer_dir(rpod_env, images["busybox"].diff_ids[0]) / "diff"
    busybox = (root / "bin" / "busybox").stat()
    assert busybox.st_nlink >= 400
    same = [p for p in (root / "bin").iterdir() if not p.is_symlink() and p.stat().st_ino == busybox.st_ino]
    assert len(same) == busybox.st_nlink


MERGE_PROBE = r"""
import json, os, stat, sys, subprocess
lowers, target, paths = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lowers},userxattr", target], check=True)
out = {}
for p in paths:
    full = os.path.join(target, p)
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        out[p] = None
        continue
    kind = ("symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
            else "fifo" if stat.S_ISFIFO(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other")
    entry = {"kind": kind, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "ino": st.st_ino}
    if kind == "symlink":
        entry["target"] = os.readlink(full)
    elif kind == "file":
        entry["content"] = open(full, "rb").read().decode("latin-1")
    out[p] = entry
print(json.dumps(out))
"""


def test_layered_image_merges_like_the_container_will_see_it(rpod_env: RpodEnv, images: ImageSet,
                                                              tmp_path: Path) -> None:
    """Whiteouts, opaque dirs, owners, setuid, fifo, symlinks and hardlinks, seen through a real overlay."""
    img = images["layered"]
    ok(run_rpod(rpod_env, "pull", "-q", "layered"))
    dirs = [str(layer_dir(rpod_env, d) / "diff") for d in reversed(img.diff_ids)]
    expect = img.rootfs
    assert expect is not None
    # on disk, as the host sees it: owners shifted into the subuid range, whiteouts are 0:0 char devices
    top_layers = {d: layer_dir(rpod_env, d) / "diff" for d in img.diff_ids}
    home = next(p / "home/user" for p in top_layers.values() if (p / "home/user").exists())
    assert (home.stat().st_uid, home.stat().st_gid) == (_host_uid(1000), _host_gid(1000))
    nobody = next(p / "var/nobody/data" for p in top_layers.values() if (p / "var/nobody/data").exists())
    assert nobody.stat().st_uid == _host_uid(65534)
    motd = next(p / "etc/motd" for p in top_layers.values()
                if (p / "etc/motd").is_char_device() if (p / "etc/motd").exists())
    assert os.major(motd.stat().st_rdev) == 0 and os.minor(motd.stat().st_rdev) == 0
    opaque = [p / "opt/app" for p in top_layers.values()
              if (p / "opt/app").is_dir() and "user.overlay.opaque" in os.listxattr(p / "opt/app")]
    assert opaque and os.getxattr(opaque[0], "user.overlay.opaque") == b"y"
    # merged, as the container sees it
    paths = sorted(set(expect.present) | set(expect.absent))
    mnt = tmp_path / "merged"
    mnt.mkdir()
    r = ok(run_rpod(rpod_env, "unshare", sys.executable, "-c", MERGE_PROBE, ":".join(dirs), str(mnt),
                    json.dumps(paths)))
    seen = json.loads(r.stdout)
    for path in expect.absent:
        assert seen[path] is None, f"{path} should have been deleted by a whiteout/opaque dir"
    for path, want in expect.present.items():
        got = seen[path]
        assert got is not None, f"{path} missing from the merged rootfs"
        assert got["kind"] == want.kind, path
        if want.mode is not None:
            assert got["mode"] == want.mode, f"{path}: mode {oct(got['mode'])} != {oct(want.mode)}"
        assert (got["uid"], got["gid"]) == (want.uid, want.gid), path
        if want.content is not None:
            assert got["content"].encode("latin-1") == want.content, path
        if want.target is not None:
            assert got["target"] == want.target, path
    for group in expect.hardlinks:
        assert len({seen[p]["ino"] for p in group}) == 1, group


def test_large_image_pulls_and_unpacks_every_file(rpod_env: RpodEnv, images: ImageSet) -> None:
    img = images["large"]
    t = time.monotonic()
    ok(run_rpod(rpod_env, "pull", "-q", "large", timeout=300))
    elapsed = time.monotonic() - t
    files = sum(len(f) for d in img.diff_ids for _, _, f in os.walk(layer_dir(rpod_env, d) / "diff"))
    assert files > 20000
    print(f"large image: {files} files in {elapsed:.2f}s")


# --------------------------------------------------------------------------- auth and TLS


def test_tls_registry_with_ca_in_certs_d_and_htpasswd(rpod_env: RpodEnv, images: ImageSet,
                                                      tls_registry: Registry) -> None:
    images.push_to(tls_registry, "alpine")
    ref = images.ref("alpine", registry=tls_registry)
    # untrusted CA: a clear TLS error
    r = run_rpod(rpod_env, "pull", "-q", ref)
    assert r.returncode == 125
    assert "certificate" in r.stderr.lower()
    rpod_env.trust(tls_registry)
    # trusted, but no credentials: the error names it, the hint (at a terminal, or asked for) the fix
    r = run_rpod({**rpod_env, "RPOD_HINTS": "1"}, "pull", "-q", ref)
    assert r.returncode == 125
    assert "authentication required" in r.stderr.lower() and "login" in r.stderr.lower(), r.stderr
    # --creds
    creds = f"{tls_registry.username}:{tls_registry.password}"
    r = ok(run_rpod(rpod_env, "pull", "-q", "--creds", creds, ref))
    assert r.stdout.strip() == images["alpine"].image_id
    # rpod login stores them; a wrong password is refused and not stored
    r = run_rpod(rpod_env, "login", "-u", tls_registry.username, "--password-stdin", tls_registry.address,
                 input="wrong\n")
    assert r.returncode == 125
    assert r.stderr == f'Error: logging into "{tls_registry.address}": invalid username/password\n'  # Podman's
    r = ok(run_rpod(rpod_env, "login", "-u", tls_registry.username, "--password-stdin", tls_registry.address,
                    input=tls_registry.password + "\n"))
    assert "Login Succeeded" in r.stdout
    auth = json.loads((Path(rpod_env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json").read_text())
    assert tls_registry.address in auth["auths"]
    ok(run_rpod(rpod_env, "rmi", "-a"))
    r = ok(run_rpod(rpod_env, "pull", "-q", ref))
    assert r.stdout.strip() == images["alpine"].image_id
    r = ok(run_rpod(rpod_env, "login", "--get-login", tls_registry.address))
    assert r.stdout.strip() == tls_registry.username
    ok(run_rpod(rpod_env, "logout", tls_registry.address))
    r = run_rpod(rpod_env, "logout", tls_registry.address)
    assert r.returncode == 125 and "not logged in" in r.stderr


def test_bearer_token_auth_with_scoped_tokens(rpod_env: RpodEnv, images: ImageSet,
                                              token_registry: Registry) -> None:
    images.push_to(token_registry, "alpine")
    rpod_env.write_registries_conf(search=[images.registry.address],
                                   insecure=[images.registry.address, token_registry.address])
    server = token_registry.token_server
    server.clear()
    r = ok(run_rpod(rpod_env, "pull", "-q", images.ref("alpine", registry=token_registry)))
    assert r.stdout.strip() == images["alpine"].image_id
    scopes = [s for req in server.requests for s in req.scopes]
    assert "repository:alpine:pull" in scopes
    assert all(not req.authenticated for req in server.requests)  # anonymous pull


# --------------------------------------------------------------------------- failures


def _proxy_env(env: RpodEnv, proxy: FlakyProxy, registry: Registry) -> str:
    env.write_registries_conf(search=[registry.address], insecure=[registry.address, proxy.address])
    return proxy.address


def _blob_gets(proxy: FlakyProxy, digest: str) -> list:
    return [r for r in proxy.requests if r.method == "GET" and r.path.endswith("/blobs/" + digest)]


def test_transient_5xx_is_retried(rpod_env: RpodEnv, images: ImageSet, flaky_proxy: FlakyProxy) -> None:
    addr = _proxy_env(rpod_env, flaky_proxy, images.registry)
    flaky_proxy.fail_blobs(2, status=503)
    r = ok(run_rpod(rpod_env, "pull", "-q", f"{addr}/busybox:latest"))
    assert r.stdout.strip() == images["busybox"].image_id


def test_cut_download_resumes_with_range(rpod_env: RpodEnv, images: ImageSet, flaky_proxy: FlakyProxy) -> None:
    addr = _proxy_env(rpod_env, flaky_proxy, images.registry)
    layer = images["alpine"].layer_digests[0]
    flaky_proxy.cut_blobs(after=600_000, times=50)  # config (smaller, unharmed) + every layer attempt
    r = ok(run_rpod(rpod_env, "pull", "-q", f"{addr}/alpine:3.20"))
    assert r.stdout.strip() == images["alpine"].image_id
    gets = _blob_gets(flaky_proxy, layer)
    print([(g.status, g.range, g.action) for g in gets])
    assert len(gets) >= 3  # cut twice at least: 3.4 MB in pieces of 600 kB
    assert gets[0].range is None
    offsets = [int(g.range.removeprefix("bytes=").rstrip("-")) for g in gets[1:]]
    assert offsets == sorted(offsets) and offsets[0] > 0


def test_interrupted_pull_resumes_on_the_next_run(rpod_env: RpodEnv, images: ImageSet,
                                                  flaky_proxy: FlakyProxy) -> None:
    """kill -9 in the middle of a layer download; the next pull asks only for the rest (Range)."""
    addr = _proxy_env(rpod_env, flaky_proxy, images.registry)
    ref = f"{addr}/large:latest"
    partial_dir = store_root(rpod_env) / "partial"
    saved: dict[str, int] = {}
    for _attempt in range(20):
        proc = subprocess.Popen([sys.executable, "-m", "rpod", "pull", "-q", ref], env=rpod_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            sizes = {p.name: p.stat().st_size for p in partial_dir.glob("*")} if partial_dir.exists() else {}
            if any(v > 1_000_000 for v in sizes.values()):
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        saved = {p.name: p.stat().st_size for p in partial_dir.glob("*") if p.stat().st_size > 0} \
            if partial_dir.exists() else {}
        if saved:
            break
    assert saved, "never caught the pull in the middle of a layer"
    assert all(r["id"] != images["large"].image_id for r in image_records(rpod_env))
    flaky_proxy.reset()
    r = ok(run_rpod(rpod_env, "pull", "-q", ref, timeout=300))
    assert r.stdout.strip() == images["large"].image_id
    resumed = [g for g in flaky_proxy.requests if g.range]
    assert resumed, "the second pull did not resume any download"
    for g in resumed:
        hexd = g.path.rsplit(":", 1)[1]
        assert g.range == f"bytes={saved[hexd]}-"
    assert not any(partial_dir.glob("*"))


def _helpers_writing_into(store: Path) -> list[int]:
    pids = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc_dir / "cmdline").read_bytes()
        except OSError:
            continue
        if b"rootless.unpack" in cmdline and str(store).encode() in cmdline:
            pids.append(int(proc_dir.name))
    return pids


def test_kill_9_during_pull_leaves_a_usable_store(rpod_env: RpodEnv, images: ImageSet) -> None:
    ref = images.ref("large")
    for delay in (0.3, 1.0):
        proc = subprocess.Popen([sys.executable, "-m", "rpod", "pull", "-q", ref], env=rpod_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # the unpack helpers die with the CLI instead of writing on into the store
        deadline = time.monotonic() + 30
        while _helpers_writing_into(store_root(rpod_env)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _helpers_writing_into(store_root(rpod_env))
        # whatever is in layers/ is complete; no record points at a missing layer
        for entry in (store_root(rpod_env) / "layers").glob("*") if (store_root(rpod_env) / "layers").exists() else []:
            assert (entry / "layer.json").exists(), f"{entry} is in the store but incomplete"
        for rec in image_records(rpod_env):
            for d in rec["layers"]:
                assert (layer_dir(rpod_env, d) / "layer.json").exists()
    r = ok(run_rpod(rpod_env, "pull", "-q", ref, timeout=300))
    assert r.stdout.strip() == images["large"].image_id
    tmp = store_root(rpod_env) / "tmp"
    assert not [p for p in tmp.iterdir() if not p.name.endswith(".removing")] if tmp.exists() else True
    ok(run_rpod(rpod_env, "images"))


def test_concurrent_pulls_fetch_each_blob_once(rpod_env: RpodEnv, images: ImageSet,
                                               flaky_proxy: FlakyProxy) -> None:
    addr = _proxy_env(rpod_env, flaky_proxy, images.registry)
    ref = f"{addr}/busybox:latest"
    results: list[subprocess.CompletedProcess] = []

    def pull() -> None:
        results.append(run_rpod(rpod_env, "pull", "-q", ref))

    threads = [threading.Thread(target=pull) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        ok(r)
        assert r.stdout.strip() == images["busybox"].image_id
    for layer in images["busybox"].layer_digests:
        assert len(_blob_gets(flaky_proxy, layer)) == 1


def test_wrong_digest_fails_with_125_and_stores_nothing(rpod_env: RpodEnv, images: ImageSet,
                                                        registry: Registry, tmp_path: Path) -> None:
    from tests.support.images import LayoutWriter, describe_layout, push_image
    from tests.support.tarbuild import Entry, build_tar

    # a private image whose layer blob is then corrupted in the registry's storage
    w = LayoutWriter(tmp_path / "layout")
    from tests.support.images import Layer

    token = os.urandom(8).hex()
    desc = w.image([Layer(build_tar([Entry("f", data=token.encode() * 1000)]), "gzip")], cmd=["sh"])
    w.tag(desc, "latest")
    w.close()
    img = describe_layout(tmp_path / "layout", f"corrupt/{token}", ("latest",))
    push_image(img, registry, tmp_path / "push")
    blob = registry.storage / "docker/registry/v2/blobs/sha256" / img.layer_digests[0][7:9] / img.layer_digests[0][7:] / "data"
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    r = run_rpod(rpod_env, "pull", img.reference(registry.address))
    assert r.returncode == 125
    assert img.layer_digests[0] in r.stderr
    assert image_records(rpod_env) == []
    assert not (layer_dir(rpod_env, img.diff_ids[0])).exists()


def test_unknown_tag_and_unknown_registry_are_clear_errors(rpod_env: RpodEnv, images: ImageSet) -> None:
    r = run_rpod(rpod_env, "pull", f"{images.registry.address}/alpine:nope")
    assert r.returncode == 125
    assert f"{images.registry.address}/alpine:nope" in r.stderr and "manifest unknown" in r.stderr
    r = run_rpod(rpod_env, "pull", "127.0.0.1:1/alpine:latest")
    assert r.returncode == 125
    assert "127.0.0.1:1" in r.stderr
    r = run_rpod(rpod_env, "pull", "Not/A/Valid:Reference!")
    assert r.returncode == 125


@pytest.mark.parametrize("name", [
    "hostile/dotdot", "hostile/abs-symlink-escape", "hostile/hardlink-escape",
    "hostile/symlink-then-write-through", "hostile/absurd-size",
])
def test_hostile_layers_are_refused_and_write_nothing_outside(rpod_env: RpodEnv, images: ImageSet,
                                                              name: str) -> None:
    canaries = [Path("/tmp/rpod-hostile-abs-escape"), Path("/tmp/rpod-hostile-write-through")]
    r = run_rpod(rpod_env, "pull", "-q", name)
    assert r.returncode == 125, r.stderr
    assert images[name].layer_digests[0] in r.stderr  # names the layer
    assert "Traceback" not in r.stderr
    assert image_records(rpod_env) == []
    store = store_root(rpod_env)
    assert not list(store.parent.glob("rpod-hostile-*")) and not list(store.glob("rpod-hostile-*"))
    assert not list((store / "layers").glob("*")) if (store / "layers").exists() else True
    for c in canaries:
        assert not c.exists(), f"{c} was written outside the store"
    tmp = store / "tmp"
    assert not list(tmp.glob("*")) if tmp.exists() else True


def test_device_nodes_are_skipped_with_a_note(rpod_env: RpodEnv, images: ImageSet) -> None:
    img = images["hostile/device-node"]
    ok(run_rpod(rpod_env, "pull", "-q", "hostile/device-node"))
    root = layer_dir(rpod_env, img.diff_ids[0]) / "diff"
    assert (root / "ok.txt").read_text() == "ok\n"
    assert not (root / "dev" / "rpod-null").exists()
    info = json.loads((layer_dir(rpod_env, img.diff_ids[0]) / "layer.json").read_text())
    assert any("rpod-null" in str(s) for s in info["stats"].get("skipped", []))


def test_blocked_registry_is_refused(rpod_env: RpodEnv, images: ImageSet) -> None:
    conf = rpod_env.registries_conf
    conf.write_text(conf.read_text() + '\n[[registry]]\nlocation = "blocked.example"\nblocked = true\n')
    r = run_rpod(rpod_env, "pull", "blocked.example/alpine")
    assert r.returncode == 125
    assert "blocked" in r.stderr


def test_mirror_is_tried_first(rpod_env: RpodEnv, images: ImageSet, flaky_proxy: FlakyProxy) -> None:
    reg = images.registry.address
    rpod_env.registries_conf.write_text(
        f'unqualified-search-registries = ["{reg}"]\n'
        f'[[registry]]\nlocation = "{reg}"\ninsecure = true\n'
        f'[[registry.mirror]]\nlocation = "{flaky_proxy.address}"\ninsecure = true\n')
    r = ok(run_rpod(rpod_env, "pull", "-q", "alpine"))
    assert r.stdout.strip() == images["alpine"].image_id
    assert _blob_gets(flaky_proxy, images["alpine"].layer_digests[0])


def test_layers_are_shared_between_images(rpod_env: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(rpod_env, "pull", "-q", "alpine"))
    base = layer_dir(rpod_env, images["alpine"].diff_ids[0])
    ino = base.stat().st_ino
    r = ok(run_rpod(rpod_env, "pull", "zstd"))
    assert "skipped: already exists" in r.stderr
    assert base.stat().st_ino == ino
    assert images["zstd"].diff_ids[0] == images["alpine"].diff_ids[0]
    assert stat.S_ISDIR(base.stat().st_mode)


def test_unknown_layer_media_type_fails_before_downloading(rpod_env: RpodEnv, images: ImageSet,
                                                          registry: Registry) -> None:
    """A manifest whose layer is not a tar (an artifact) is refused with the media type and digest."""
    from tests.support.tarbuild import Entry, build_tar

    weird = "application/vnd.example.not-a-layer"
    layer_digest, ref = _push_raw(registry, "weird/artifact", build_tar([Entry("f", data=os.urandom(64))]),
                                  media_type=weird)
    r = run_rpod(rpod_env, "pull", ref)
    assert r.returncode == 125
    assert weird in r.stderr and layer_digest in r.stderr
    assert image_records(rpod_env) == []


def _push_raw(registry: Registry, repo: str, layer_tar: bytes, diff_id: str | None = None,
              media_type: str = "application/vnd.oci.image.layer.v1.tar+gzip") -> tuple[str, str]:
    """Push a one-layer image through the registry API; returns (layer digest, image ref)."""
    import gzip
    import hashlib
    import io

    from rpod.image.registry import RegistryClient
    from tests.support.images import canonical_json

    layer = gzip.compress(layer_tar)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = canonical_json({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers",
                                        "diff_ids": [diff_id or "sha256:" + hashlib.sha256(layer_tar).hexdigest()]}})
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": media_type, "digest": layer_digest, "size": len(layer)}],
    })
    with RegistryClient(registry.address, insecure=True) as client:
        client.push_blob(repo, layer_digest, io.BytesIO(layer), len(layer))
        client.push_blob(repo, config_digest, io.BytesIO(config), len(config))
        client.push_manifest(repo, "latest", manifest, "application/vnd.oci.image.manifest.v1+json")
    return layer_digest, f"{registry.address}/{repo}:latest"


def test_diff_id_mismatch_is_refused(rpod_env: RpodEnv, images: ImageSet, registry: Registry) -> None:
    from tests.support.tarbuild import Entry, build_tar

    wrong = "sha256:" + "0" * 64
    layer_digest, ref = _push_raw(registry, "bad/diffid", build_tar([Entry("f", data=os.urandom(32))]), wrong)
    r = run_rpod(rpod_env, "pull", ref)
    assert r.returncode == 125
    assert "diff_id" in r.stderr and wrong in r.stderr and layer_digest in r.stderr
    assert image_records(rpod_env) == []
    assert not (store_root(rpod_env) / "layers" / ("0" * 64)).exists()


def test_all_tags(rpod_env: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(rpod_env, "pull", "-q", "--all-tags", f"{images.registry.address}/alpine"))
    assert set(r.stdout.split()) == {images["alpine"].image_id}
    names = image_records(rpod_env)[0]["names"]
    assert sorted(n.rsplit(":", 1)[1] for n in names) == sorted(images["alpine"].tags)


def test_progress_bars_on_a_terminal(rpod_env: RpodEnv, images: ImageSet) -> None:
    """With stderr on a terminal, rich draws bars; the ID still goes to stdout alone."""
    import pty

    out = bytearray()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(rpod_env["HOME"])
        os.execve(sys.executable, [sys.executable, "-m", "rpod", "pull", "busybox"], rpod_env)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.decode(errors="replace")
    text = out.decode(errors="replace")
    assert "Copying blob" in text and images["busybox"].image_id in text
    assert "━" in text or "\x1b[" in text  # a drawn bar / terminal control sequences
