"""The test infrastructure itself is real: registries serve what images.py says they do,
auth really is enforced, and the flaky proxy really misbehaves."""

from __future__ import annotations

import gzip
import http.client
import io
import json
import stat
import tarfile
import time
import tomllib
import urllib.parse
from pathlib import Path

import pytest
import zstandard

from tests.support.images import (
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    LARGE_IMAGE_VERSION,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    ImageSet,
    RootfsExpectation,
    TestImage,
    cached_large_layout,
    default_cache_root,
    sha256_digest,
)
from tests.support.registry import CertAuthority, FlakyProxy, Registry, TokenServer, skopeo, start_registry
from tests.support.rpodcli import RpodEnv

IMAGE_NAMES = (
    "alpine", "multiarch", "busybox", "layered", "zstd", "plain", "docker-v2s2", "large",
    "hostile/dotdot", "hostile/abs-symlink-escape", "hostile/hardlink-escape",
    "hostile/symlink-then-write-through", "hostile/device-node", "hostile/absurd-size",
)


def _inspect_raw(reg: Registry, ref: str, workdir: Path, *extra: str) -> bytes:
    out = skopeo(["inspect", "--raw", *extra, *reg.skopeo_args(), f"docker://{ref}"], workdir)
    return out.stdout.encode()


def _blob(reg: Registry, name: str, digest: str) -> bytes:
    status, _, body = reg.request("GET", f"/v2/{name}/blobs/{digest}")
    assert status == 200, f"GET blob {digest} of {name}: HTTP {status} {body[:200]!r}"
    return body


def _uncompress(data: bytes, media_type: str) -> bytes:
    if media_type.endswith("gzip"):
        return gzip.decompress(data)
    if media_type.endswith("zstd"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _layer_members(reg: Registry, image: TestImage, index: int) -> list[tarfile.TarInfo]:
    p = image.native
    tar = _uncompress(_blob(reg, image.name, p.layer_digests[index]), p.layer_media_types[index])
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return t.getmembers()


def test_every_image_is_on_the_http_registry_with_the_computed_digests(
        images: ImageSet, registry: Registry, tmp_path: Path) -> None:
    assert set(images) == set(IMAGE_NAMES)
    for name in IMAGE_NAMES:
        image = images[name]
        for tag in image.tags:
            raw = _inspect_raw(registry, images.ref(name, tag), tmp_path)
            assert sha256_digest(raw) == image.tag_digests[tag], f"{name}:{tag}"
        for platform in image.platforms.values():
            ref = f"{registry.address}/{name}@{platform.manifest_digest}"
            assert sha256_digest(_inspect_raw(registry, ref, tmp_path)) == platform.manifest_digest
            config = _inspect_raw(registry, ref, tmp_path, "--config")
            assert sha256_digest(config) == platform.config_digest == "sha256:" + platform.image_id
            assert tuple(json.loads(config)["rootfs"]["diff_ids"]) == platform.diff_ids


@pytest.mark.parametrize("name", ["alpine", "layered", "zstd", "plain", "docker-v2s2", "hostile/device-node"])
def test_layer_blobs_match_digests_and_diff_ids(images: ImageSet, registry: Registry, name: str) -> None:
    p = images[name].native
    assert len(p.layer_digests) == len(p.diff_ids) >= 1
    for digest, diff_id, media_type, size in zip(p.layer_digests, p.diff_ids, p.layer_media_types,
                                                 p.layer_sizes, strict=True):
        blob = _blob(registry, name, digest)
        assert (sha256_digest(blob), len(blob)) == (digest, size)
        assert sha256_digest(_uncompress(blob, media_type)) == diff_id


def test_alpine_is_the_official_image_recipe(images: ImageSet, registry: Registry) -> None:
    alpine = images["alpine"]
    assert alpine.tags == ("3.20", "latest", "3.20.3")
    assert alpine.media_type == OCI_MANIFEST
    cfg = alpine.native.config
    assert (cfg["architecture"], cfg["os"]) == ("amd64", "linux")
    assert cfg["config"] == {"Cmd": ["/bin/sh"],
                             "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    assert [h.get("empty_layer", False) for h in cfg["history"]] == [False, True]
    assert cfg["history"][0]["created_by"] == f"/bin/sh -c #(nop) ADD file:{alpine.diff_ids[0][7:]} in / "
    members = _layer_members(registry, alpine, 0)
    by_name = {m.name: m for m in members}
    assert by_name["bin/busybox"].isreg() and by_name["bin/busybox"].mode == 0o755
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "/bin/busybox"
    assert by_name["tmp"].mode == 0o1777
    assert by_name["etc/alpine-release"].isreg()
    assert not any(m.name in (".", "./") or m.name.startswith("./") for m in members)
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda n: n.split("/")), "entries are in directory-walk order"


def test_multiarch_is_an_oci_index_of_two_platforms(images: ImageSet, registry: Registry) -> None:
    multi = images["multiarch"]
    assert multi.media_type == OCI_INDEX
    assert set(multi.platforms) == {"linux/amd64", "linux/arm64/v8"}
    index = json.loads(registry.request("GET", "/v2/multiarch/manifests/latest",
                                        headers={"Accept": OCI_INDEX})[2])
    platforms = {(m["platform"]["architecture"], m["platform"].get("variant")) for m in index["manifests"]}
    assert platforms == {("amd64", None), ("arm64", "v8")}
    arm = multi.platforms["linux/arm64/v8"]
    assert arm.config["architecture"] == "arm64" and arm.config["variant"] == "v8"
    assert multi.native.diff_ids == images["alpine"].diff_ids, "amd64 member is the alpine image"
    assert arm.diff_ids != multi.native.diff_ids


def test_busybox_has_hundreds_of_hardlinks(images: ImageSet, registry: Registry) -> None:
    members = _layer_members(registry, images["busybox"], 0)
    links = [m for m in members if m.islnk()]
    assert len(links) >= 400
    targets = {m.linkname for m in links}
    assert len(targets) == 1 and {m.name: m for m in members}[targets.pop()].isreg()
    assert images["busybox"].native.config["config"]["Cmd"] == ["sh"]


def _merge_layers(layers: list[list[tuple[tarfile.TarInfo, bytes]]]) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """Apply layer tars in order with OCI whiteout semantics (reference model for the test)."""
    tree: dict[str, tuple[tarfile.TarInfo, bytes]] = {}

    def drop(path: str) -> None:
        for k in [k for k in tree if k == path or k.startswith(path + "/")]:
            del tree[k]

    for members in layers:
        for info, data in members:
            name = info.name.rstrip("/")
            parent, _, base = name.rpartition("/")
            if base == ".wh..wh..opq":
                for k in [k for k in tree if k.startswith(parent + "/")]:
                    del tree[k]
            elif base.startswith(".wh."):
                drop(f"{parent}/{base[4:]}" if parent else base[4:])
            else:
                if name in tree and not (info.isdir() and tree[name][0].isdir()):
                    drop(name)
                if info.islnk():
                    data = tree[info.linkname][1]
                tree[name] = (info, data)
    return tree


def test_layered_expectation_matches_its_layers(images: ImageSet, registry: Registry) -> None:
    image = images["layered"]
    expect = image.rootfs
    assert isinstance(expect, RootfsExpectation)
    assert image.diff_ids[0] == images["alpine"].diff_ids[0], "layered shares alpine's base layer"
    layers = []
    for digest, media_type in zip(image.layer_digests, image.native.layer_media_types, strict=True):
        tar = _uncompress(_blob(registry, "layered", digest), media_type)
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            layers.append([(m, t.extractfile(m).read() if m.isreg() else b"") for m in t.getmembers()])  # type: ignore[union-attr]
    assert any(len(m.pax_headers.get("path", "")) > 100 for m, _ in layers[1]), "long names use PAX headers"
    tree = _merge_layers(layers)
    kinds = {"file": tarfile.TarInfo.isreg, "dir": tarfile.TarInfo.isdir, "symlink": tarfile.TarInfo.issym,
             "fifo": tarfile.TarInfo.isfifo}
    for path, want in expect.present.items():
        assert path in tree, path
        info, data = tree[path]
        assert kinds[want.kind](info) or (want.kind == "file" and info.islnk()), path
        if want.mode is not None:
            assert stat.S_IMODE(info.mode) == want.mode, path
        assert (info.uid, info.gid) == (want.uid, want.gid), path
        if want.content is not None:
            assert data == want.content, path
        if want.target is not None:
            assert info.linkname == want.target, path
    for path in expect.absent:
        assert path not in tree, path
    for group in expect.hardlinks:
        assert any(tree[p][0].islnk() for p in group)
    assert len(max(expect.present, key=len)) > 100


def test_compression_variants_and_docker_media_types(images: ImageSet, registry: Registry, tmp_path: Path) -> None:
    assert set(images["zstd"].native.layer_media_types) == {OCI_LAYER["zstd"]}
    assert set(images["plain"].native.layer_media_types) == {OCI_LAYER["none"]}
    for name in ("zstd", "plain", "docker-v2s2"):
        assert images[name].diff_ids[0] == images["alpine"].diff_ids[0]
        assert images[name].layer_digests[0] != images["alpine"].layer_digests[0] or name == "docker-v2s2"
        assert images[name].image_id != images["alpine"].image_id
    v2 = images["docker-v2s2"]
    assert v2.media_type == DOCKER_LIST and v2.native.manifest_media_type == DOCKER_MANIFEST
    assert set(v2.native.layer_media_types) == {DOCKER_LAYER_GZIP}
    status, headers, body = registry.request("GET", "/v2/docker-v2s2/manifests/single",
                                             headers={"Accept": DOCKER_MANIFEST})
    assert status == 200 and headers["content-type"] == DOCKER_MANIFEST
    assert sha256_digest(body) == v2.manifest_digest == headers["docker-content-digest"]
    status, headers, _ = registry.request("GET", "/v2/docker-v2s2/manifests/latest",
                                          headers={"Accept": DOCKER_LIST})
    assert headers["content-type"] == DOCKER_LIST and headers["docker-content-digest"] == v2.digest


def test_hostile_layers_contain_what_they_claim(images: ImageSet, registry: Registry) -> None:
    def names(name: str) -> dict[str, tarfile.TarInfo]:
        return {m.name: m for m in _layer_members(registry, images[name], 0)}

    for name in IMAGE_NAMES:
        if name.startswith("hostile/"):
            assert images[name].purpose and len(images[name].layer_digests) == 1
    assert "../rpod-hostile-dotdot" in names("hostile/dotdot")
    evil = names("hostile/abs-symlink-escape")
    assert evil["evil"].issym() and evil["evil"].linkname == "/" and "evil/tmp/rpod-hostile-abs-escape" in evil
    links = names("hostile/hardlink-escape")
    assert links["passwd-abs"].islnk() and links["passwd-abs"].linkname == "/etc/passwd"
    through = names("hostile/symlink-then-write-through")
    assert list(through) == ["link", "link/rpod-hostile-write-through"]
    devs = names("hostile/device-node")
    assert devs["dev/rpod-null"].ischr() and devs["dev/rpod-sda"].isblk()
    blob = _blob(registry, "hostile/absurd-size", images["hostile/absurd-size"].layer_digests[0])
    with pytest.raises(tarfile.ReadError), tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as t:
        member = t.next()
        assert member is not None and member.size == 1 << 30
        t.extractfile(member).read()  # type: ignore[union-attr]


def test_large_image_is_big_and_cached(images: ImageSet) -> None:
    large = images["large"]
    assert len(large.layer_digests) == 5
    assert large.layout == default_cache_root() / LARGE_IMAGE_VERSION
    index_mtime = (large.layout / "index.json").stat().st_mtime_ns
    started = time.monotonic()
    assert cached_large_layout(default_cache_root(), b"unused when cached") == large.layout
    assert time.monotonic() - started < 1 and (large.layout / "index.json").stat().st_mtime_ns == index_mtime
    files = total = 0
    for digest in large.layer_digests[1:]:
        with tarfile.open(large.layout / "blobs" / "sha256" / digest.split(":")[1], "r:gz") as t:
            for m in t:
                if m.isreg():
                    files += 1
                    total += m.size
    assert 29_000 <= files <= 31_000
    assert 120e6 <= total <= 180e6


def test_tls_registry_needs_its_ca_and_credentials(images: ImageSet, tls_registry: Registry, tmp_path: Path) -> None:
    images.push_to(tls_registry, "alpine")
    ref = images.ref("alpine", registry=tls_registry)
    assert sha256_digest(_inspect_raw(tls_registry, ref, tmp_path)) == images["alpine"].digest
    with pytest.raises(RuntimeError, match="(?i)unauthorized|authentication required"):
        skopeo(["inspect", "--raw", f"--cert-dir={tls_registry.cert_dir}", f"docker://{ref}"], tmp_path)
    with pytest.raises(RuntimeError, match="(?i)certificate|x509"):
        skopeo(["inspect", "--raw", f"--creds={tls_registry.username}:{tls_registry.password}",
                f"docker://{ref}"], tmp_path)
    with pytest.raises(RuntimeError, match="(?i)unauthorized|authentication required"):
        skopeo(["inspect", "--raw", f"--cert-dir={tls_registry.cert_dir}",
                f"--creds={tls_registry.username}:wrong", f"docker://{ref}"], tmp_path)
    assert tls_registry.url.startswith("https://") and tls_registry.ca_path is not None
    ca = tls_registry.trust_in(tmp_path / "config")
    assert ca == tmp_path / "config" / "containers" / "certs.d" / tls_registry.address / "ca.crt"
    assert ca.read_bytes() == tls_registry.ca_path.read_bytes()


def test_token_registry_issues_scoped_tokens(images: ImageSet, token_registry: Registry, tmp_path: Path) -> None:
    tokens = token_registry.token_server
    assert tokens is not None
    tokens.clear()
    images.push_to(token_registry, "alpine")
    pushes = [r for r in tokens.requests if "repository:alpine:pull,push" in r.scopes]
    assert pushes and all(r.authenticated and r.username == token_registry.username for r in pushes)
    assert pushes[0].service == tokens.service and pushes[0].granted[0]["actions"] == ["pull", "push"]

    tokens.clear()
    ref = images.ref("alpine", registry=token_registry)
    raw = skopeo(["inspect", "--raw", "--tls-verify=false", "--no-creds", f"docker://{ref}"], tmp_path).stdout
    assert sha256_digest(raw.encode()) == images["alpine"].digest
    anon = [r for r in tokens.requests if r.scopes == ["repository:alpine:pull"]]
    assert anon and anon[0].username is None and anon[0].granted[0]["actions"] == ["pull"]

    with pytest.raises(RuntimeError, match="(?i)unauthorized|authentication required|401"):
        skopeo(["inspect", "--raw", "--tls-verify=false", f"--creds={token_registry.username}:wrong",
                f"docker://{ref}"], tmp_path)
    tokens.private_repos.add("alpine")
    try:
        with pytest.raises(RuntimeError, match="(?i)unauthorized|authentication required|denied"):
            skopeo(["inspect", "--raw", "--tls-verify=false", "--no-creds", f"docker://{ref}"], tmp_path)
    finally:
        tokens.private_repos.discard("alpine")


def test_registry_really_validates_tokens(images: ImageSet, token_registry: Registry) -> None:
    tokens = token_registry.token_server
    assert tokens is not None
    images.push_to(token_registry, "alpine")
    path = f"/v2/alpine/manifests/{images['alpine'].tag}"
    pull = [{"type": "repository", "name": "alpine", "actions": ["pull"]}]
    accept = {"Accept": OCI_MANIFEST}
    status, headers, _ = token_registry.request("GET", path, headers=accept, auth=False)
    assert status == 401
    challenge = headers["www-authenticate"]
    assert f'realm="{tokens.realm}"' in challenge and f'service="{tokens.service}"' in challenge
    assert 'scope="repository:alpine:pull"' in challenge

    def get_with(token: str) -> int:
        return token_registry.request("GET", path, headers={**accept, "Authorization": f"Bearer {token}"},
                                      auth=False)[0]

    assert get_with(tokens.make_token(pull)) == 200
    assert get_with(tokens.make_token(pull, audience="someone-else")) == 401
    assert get_with(tokens.make_token(pull, issuer="evil")) == 401
    assert get_with(tokens.make_token(pull, lifetime=-3600)) == 401
    assert get_with(tokens.make_token([{"type": "repository", "name": "other", "actions": ["pull"]}])) == 401
    forged = tokens.make_token(pull)
    assert get_with(forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")) == 401


def test_rs256_token_server(tmp_path: Path, built_images: dict[str, TestImage]) -> None:
    tokens = TokenServer(CertAuthority(tmp_path / "ca"), users={"u": "p"}, alg="RS256").start()
    reg = start_registry(tmp_path / "reg", token_server=tokens, token_user=("u", "p"))
    try:
        ImageSet(built_images, reg, tmp_path).push_to(reg, "hostile/dotdot")
        status, _, _ = reg.request("GET", "/v2/hostile/dotdot/manifests/latest", headers={"Accept": OCI_MANIFEST})
        assert status == 200
        assert any(r.authenticated for r in tokens.requests)
    finally:
        reg.stop()


def _get(address: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_flaky_proxy_fails_cuts_and_redirects(images: ImageSet, flaky_proxy: FlakyProxy) -> None:
    digest = images["alpine"].layer_digests[0]
    path = f"/v2/alpine/blobs/{digest}"
    status, _, body = _get(flaky_proxy.address, path)
    assert status == 200 and sha256_digest(body) == digest

    flaky_proxy.fail_blobs(2)
    assert [_get(flaky_proxy.address, path)[0] for _ in range(3)] == [503, 503, 200]
    manifest_path = f"/v2/alpine/manifests/{images['alpine'].tag}"
    flaky_proxy.fail_blobs(1)
    assert _get(flaky_proxy.address, manifest_path, {"Accept": OCI_MANIFEST})[0] == 200, "only blobs fail"
    assert _get(flaky_proxy.address, path)[0] == 503

    flaky_proxy.cut_blobs(after=100_000)
    host, port = flaky_proxy.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(body)
    got = bytearray()
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        while chunk := resp.read1(8192):
            got += chunk
        resp.read()  # only reached on a clean EOF: Content-Length promised more
    conn.close()
    assert len(got) <= 100_000 and body.startswith(bytes(got))
    status, headers, partial = _get(flaky_proxy.address, path, {"Range": "bytes=100000-"})
    assert status == 206 and partial == body[100_000:], "Range requests pass through"

    flaky_proxy.redirect_blobs(times=2)
    status, headers, _ = _get(flaky_proxy.address, path, {"Authorization": "Bearer secret"})
    assert status == 307
    target = urllib.parse.urlsplit(headers["location"])
    assert target.hostname == "localhost" and target.port != flaky_proxy.port
    status, _, redirected = _get(f"127.0.0.1:{target.port}", target.path)
    assert status == 200 and redirected == body
    status, headers, _ = _get(flaky_proxy.address, path)
    _get(f"127.0.0.1:{target.port}", urllib.parse.urlsplit(headers["location"]).path, {"Authorization": "Bearer leak"})
    assert [r.authorization for r in flaky_proxy.redirected] == [None, "Bearer leak"]
    assert _get(flaky_proxy.address, path)[0] == 200, "redirects were limited to 2"
    actions = [r.action for r in flaky_proxy.requests]
    assert actions.count("failed") == 3 and actions.count("cut") == 1 and actions.count("redirected") == 2


def test_flaky_proxy_in_front_of_an_authenticated_registry(
        images: ImageSet, token_registry: Registry, tmp_path: Path) -> None:
    images.push_to(token_registry, "alpine")
    proxy = FlakyProxy(token_registry).start()
    try:
        proxy.fail_blobs(1)
        ref = f"{proxy.address}/alpine:{images['alpine'].tag}"
        out = tmp_path / "out"
        with pytest.raises(RuntimeError, match="503|Service Unavailable|unavailable"):
            skopeo(["copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:x"], tmp_path)
        skopeo(["copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:x"], tmp_path)
        blob_gets = [r for r in proxy.requests if "/blobs/" in r.path and r.method == "GET"]
        assert [r.status for r in blob_gets][:1] == [503]
        assert all(r.authorization and r.authorization.startswith("Bearer ") for r in blob_gets)
    finally:
        proxy.stop()


def test_rpod_env_is_isolated_and_points_at_the_test_registry(rpod_env: RpodEnv, registry: Registry) -> None:
    for var in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME"):
        path = Path(rpod_env[var])
        assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o700, var
    assert len(str(rpod_env.runtime_dir)) < 40
    assert not any(k.startswith("RPOD_") for k in rpod_env)
    conf = tomllib.loads(rpod_env.registries_conf.read_text())
    assert rpod_env.registries_conf == Path(rpod_env["XDG_CONFIG_HOME"]) / "containers" / "registries.conf"
    assert conf["unqualified-search-registries"] == [registry.address]
    assert conf["registry"] == [{"location": registry.address, "insecure": True}]


def test_rpod_env_trusts_tls_registry_and_stores_credentials(
        rpod_env: RpodEnv, tls_registry: Registry, images: ImageSet, tmp_path: Path) -> None:
    ca = rpod_env.trust(tls_registry)
    assert ca is not None and ca.parent.parent == Path(rpod_env["XDG_CONFIG_HOME"]) / "containers" / "certs.d"
    assert tls_registry.ca_path is not None and ca.read_bytes() == tls_registry.ca_path.read_bytes()
    auth_file = rpod_env.write_auth(tls_registry)
    assert auth_file == Path(rpod_env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    images.push_to(tls_registry, "busybox")
    ref = images.ref("busybox", registry=tls_registry)
    raw = skopeo(["inspect", "--raw", f"--cert-dir={ca.parent}", f"--authfile={auth_file}", f"docker://{ref}"],
                 tmp_path).stdout
    assert sha256_digest(raw.encode()) == images["busybox"].digest
