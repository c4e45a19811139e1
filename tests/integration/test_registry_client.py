"""RegistryClient against real docker-registry instances (HTTP, TLS + htpasswd, Bearer tokens).

Blobs and manifests are pushed with the client's own push methods, then read back.  A
``FlakyProxy`` in front of a registry injects 503s, cut connections and cross-origin
redirects; a tiny tampering server checks that bad content is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rpod.errors import DigestMismatch, ManifestUnknown, PlatformNotFound, RegistryAuthError, RegistryError
from rpod.image import mediatypes as mt
from rpod.image.auth import Credentials
from rpod.image.registry import RegistryClient
from tests.support.images import ImageSet
from tests.support.registry import FlakyProxy, Registry


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Image:
    """A tiny one-layer image pushed by the client under test."""

    def __init__(self, label: str, layer_size: int = 300_000):
        seed = hashlib.sha256(label.encode()).digest()
        self.layer = (seed * (layer_size // len(seed) + 1))[:layer_size]
        self.config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [sha(self.layer)]},
            }
        ).encode()
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": sha(self.config), "size": len(self.config)},
                "layers": [{"mediaType": mt.OCI_LAYER, "digest": sha(self.layer), "size": len(self.layer)}],
            }
        ).encode()

    def push(self, client: RegistryClient, repo: str, tag: str, chunk_size: int | None = None) -> str:
        for blob in (self.layer, self.config):
            client.push_blob(repo, sha(blob), io.BytesIO(blob), len(blob), chunk_size=chunk_size)
        return client.push_manifest(repo, tag, self.manifest, mt.OCI_MANIFEST)


def eventually(predicate: Any, timeout: float = 3.0) -> bool:
    """Poll ``predicate`` (the proxy records a request only after it finished sending it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_all(client: RegistryClient, repo: str, digest: str, offset: int = 0) -> tuple[bytes, Any]:
    stream = client.open_blob(repo, digest, offset=offset)
    try:
        return b"".join(stream.iter_chunks(1 << 16)), stream
    finally:
        stream.close()


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the user's certs.d out of the way; tests install CAs under this config home."""
    home = tmp_path / "config"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def flaky(tls_registry: Registry) -> Iterator[FlakyProxy]:
    """A proxy in front of the TLS + htpasswd registry, so credentials flow through it."""
    proxy = FlakyProxy(tls_registry).start()
    yield proxy
    proxy.stop()


def creds_of(reg: Registry) -> Credentials:
    assert reg.username and reg.password
    return Credentials(reg.username, reg.password)


def plain_client(reg: Registry, **kw: Any) -> RegistryClient:
    return RegistryClient(reg.address, insecure=True, backoff=0.01, **kw)


# --------------------------------------------------------------------------- plain HTTP
def test_push_then_pull_over_http_when_insecure(registry: Registry) -> None:
    img = Image("roundtrip")
    with plain_client(registry) as c:
        assert not c.blob_exists("test/roundtrip", sha(img.layer))
        digest = img.push(c, "test/roundtrip", "v1")
        assert c._scheme == "http"  # https failed to handshake, fell back as containers/image does
        assert digest == sha(img.manifest)
        assert c.blob_exists("test/roundtrip", sha(img.layer))
        by_tag = c.get_manifest("test/roundtrip", "v1")
        assert (by_tag.content, by_tag.media_type, by_tag.digest) == (img.manifest, mt.OCI_MANIFEST, digest)
        by_digest = c.get_manifest("test/roundtrip", digest)
        assert by_digest.content == img.manifest
        data, stream = read_all(c, "test/roundtrip", sha(img.layer))
        assert data == img.layer
        assert (stream.partial, stream.size) == (False, len(img.layer))
        assert c.head_manifest("test/roundtrip", "v1") == digest
        assert c.head_manifest("test/roundtrip", "nope") is None
        assert c.fetch_blob("test/roundtrip", sha(img.config)) == img.config


def test_chunked_upload(registry: Registry) -> None:
    img = Image("chunked", layer_size=250_001)
    with plain_client(registry) as c:
        img.push(c, "test/chunked", "c", chunk_size=64 * 1024)
        assert read_all(c, "test/chunked", sha(img.layer))[0] == img.layer


def test_range_resume_returns_206(registry: Registry) -> None:
    img = Image("range")
    with plain_client(registry) as c:
        img.push(c, "test/range", "r")
        data, stream = read_all(c, "test/range", sha(img.layer), offset=123_456)
        assert stream.partial is True
        assert stream.offset == 123_456
        assert stream.size == len(img.layer)
        assert data == img.layer[123_456:]


def test_https_only_without_insecure(registry: Registry) -> None:
    with RegistryClient(registry.address, retries=1) as c, pytest.raises(RegistryError) as ei:
        c.get_manifest("test/roundtrip", "v1")
    assert registry.address in str(ei.value)
    assert "it answers in plain HTTP, not HTTPS" in str(ei.value)  # Podman: HTTP response to HTTPS client
    assert "--tls-verify=false" in (ei.value.hint or "") and "insecure = true" in (ei.value.hint or "")
    assert ei.value.exit_code == 125


def test_tls_verify_false_also_allows_http(registry: Registry) -> None:
    with RegistryClient(registry.address, tls_verify=False, backoff=0.01) as c:
        c.ping()
        assert c._scheme == "http"


def test_manifest_unknown_names_the_reference(registry: Registry) -> None:
    with plain_client(registry) as c:
        with pytest.raises(ManifestUnknown) as ei:
            c.get_manifest("test/roundtrip", "no-such-tag")
        assert f"{registry.address}/test/roundtrip:no-such-tag" in str(ei.value)
        wrong = "sha256:" + "0" * 64
        with pytest.raises(ManifestUnknown) as ei:
            c.get_manifest("test/roundtrip", wrong)
        assert f"{registry.address}/test/roundtrip@{wrong}" in str(ei.value)
        with pytest.raises(RegistryError, match="blob unknown"):
            c.open_blob("test/roundtrip", wrong)


def test_push_with_wrong_digest_is_refused(registry: Registry) -> None:
    data = b"x" * 1000
    with plain_client(registry) as c, pytest.raises(DigestMismatch):
        c.push_blob("test/bad", sha(b"something else"), io.BytesIO(data), len(data))


def test_list_tags_follows_pagination(registry: Registry) -> None:
    img = Image("tags", layer_size=1000)
    with plain_client(registry) as c:
        for i in range(7):
            img.push(c, "test/tags", f"t{i}")
        tags = c.list_tags("test/tags", page_size=2)
        assert sorted(tags) == [f"t{i}" for i in range(7)]
        assert len(tags) == 7
        with pytest.raises(ManifestUnknown):
            c.list_tags("test/never-pushed")


def test_mount_blob(registry: Registry) -> None:
    img = Image("mount", layer_size=5000)
    with plain_client(registry) as c:
        img.push(c, "test/mount-src", "m")
        assert c.mount_blob("test/mount-dst", sha(img.layer), "test/mount-src") is True
        assert c.blob_exists("test/mount-dst", sha(img.layer))
        assert c.mount_blob("test/mount-dst2", sha(b"absent"), "test/mount-src") is False


# --------------------------------------------------------------------------- images pushed by skopeo
@pytest.mark.parametrize("name", ["multiarch", "docker-v2s2"])
def test_index_pushed_by_skopeo(images: ImageSet, registry: Registry, name: str) -> None:
    image = images[name]
    with plain_client(registry) as c:
        top = c.get_manifest(image.name, image.tag)
        assert top.digest == image.digest
        assert top.media_type == image.media_type
        assert mt.is_index(top.media_type)
        for platform, expected in image.platforms.items():
            os_, arch, *variant = platform.split("/")
            desc = mt.select_platform(top.content, os=os_, arch=arch, variant=variant[0] if variant else None)
            assert desc["digest"] == expected.manifest_digest
            manifest = c.get_manifest(image.name, desc["digest"])
            assert manifest.media_type == expected.manifest_media_type
            doc = manifest.json()
            assert doc["config"]["digest"] == expected.config_digest
            config = json.loads(c.fetch_blob(image.name, expected.config_digest))
            assert config["rootfs"]["diff_ids"] == list(expected.diff_ids)
        with pytest.raises(PlatformNotFound, match="available: linux/amd64"):
            mt.select_platform(top.content, arch="s390x")


def test_zstd_layer_pushed_by_skopeo(images: ImageSet, registry: Registry) -> None:
    image = images["zstd"]
    with plain_client(registry) as c:
        manifest = c.get_manifest(image.name, image.tag)
        assert manifest.digest == image.manifest_digest and mt.is_manifest(manifest.media_type)
        layers = manifest.json()["layers"]
        assert [mt.layer_compression(d["mediaType"]) for d in layers] == ["zstd", "zstd"]
        data, stream = read_all(c, image.name, layers[-1]["digest"])
        assert sha(data) == layers[-1]["digest"] and stream.size == layers[-1]["size"]
        assert sorted(c.list_tags(image.name)) == sorted(image.tags)


# --------------------------------------------------------------------------- TLS + basic auth
def test_tls_basic_auth_with_certs_d(tls_registry: Registry, isolated_config: Path) -> None:
    tls_registry.trust_in(isolated_config)
    img = Image("tls")
    with RegistryClient(tls_registry.address, credentials=creds_of(tls_registry)) as c:
        digest = img.push(c, "test/tls", "v1")
        assert c._scheme == "https"
        assert c.get_manifest("test/tls", "v1").digest == digest
        assert read_all(c, "test/tls", sha(img.layer))[0] == img.layer


def test_tls_cert_dir_argument(tls_registry: Registry) -> None:
    img = Image("certdir", layer_size=1000)
    with RegistryClient(
        tls_registry.address, credentials=creds_of(tls_registry), certs_dir=tls_registry.cert_dir
    ) as c:
        img.push(c, "test/certdir", "v1")


def test_tls_untrusted_ca_fails_unless_verification_off(tls_registry: Registry) -> None:
    client = RegistryClient(tls_registry.address, credentials=creds_of(tls_registry), retries=1)
    with client as c, pytest.raises(RegistryError, match="CERTIFICATE_VERIFY_FAILED"):
        c.ping()
    with RegistryClient(tls_registry.address, credentials=creds_of(tls_registry), tls_verify=False) as c:
        c.ping()
        assert c._scheme == "https"
        Image("noverify", layer_size=1000).push(c, "test/noverify", "v1")  # (no other test's image: xdist)
        assert c.list_tags("test/noverify") == ["v1"]


def test_client_certificate_pairs_are_loaded(tmp_path: Path, isolated_config: Path) -> None:
    certs = isolated_config / "containers" / "certs.d" / "reg.example:5000"
    certs.mkdir(parents=True)
    (certs / "client.cert").write_text("cert")
    (certs / "client.key").write_text("key")
    with RegistryClient("reg.example:5000") as c:
        assert c.session.cert == (str(certs / "client.cert"), str(certs / "client.key"))
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "orphan.key").write_text("key")
    with pytest.raises(RegistryError, match=r"orphan\.key has no matching certificate orphan\.cert"):
        RegistryClient("reg.example:5000", certs_dir=lone)


def test_basic_auth_failures(tls_registry: Registry) -> None:
    with RegistryClient(tls_registry.address, certs_dir=tls_registry.cert_dir) as c:
        with pytest.raises(RegistryAuthError) as ei:
            c.get_manifest("test/tls", "v1")
        assert tls_registry.address in str(ei.value)
        assert "rpod login" in (ei.value.hint or "")
    bad = Credentials(tls_registry.username or "", "wrong")
    client = RegistryClient(tls_registry.address, certs_dir=tls_registry.cert_dir, credentials=bad)
    with client as c, pytest.raises(RegistryAuthError, match="unauthorized: authentication required") as ei:
        c.get_manifest("test/tls", "v1")
    assert f"rejected the credentials of '{tls_registry.username}'" in (ei.value.hint or "")


# --------------------------------------------------------------------------- Bearer tokens
def test_token_auth_anonymous_pull_and_authenticated_push(token_registry: Registry) -> None:
    ts = token_registry.token_server
    assert ts is not None
    img = Image("token")
    ts.clear()
    with RegistryClient(token_registry.address, insecure=True, credentials=creds_of(token_registry)) as c:
        digest = img.push(c, "test/token", "v1")
    push_requests = [r for r in ts.requests if r.status == 200]
    assert push_requests and all(r.authenticated for r in push_requests)
    assert any("repository:test/token:pull,push" in r.scopes for r in push_requests)
    assert all(r.service == ts.service for r in push_requests)

    ts.clear()
    with RegistryClient(token_registry.address, insecure=True) as anon:
        manifest = anon.get_manifest("test/token", "v1")
        assert manifest.digest == digest
        assert read_all(anon, "test/token", sha(img.layer))[0] == img.layer
        assert anon.fetch_blob("test/token", sha(img.config)) == img.config
        # one token for the pull scope, reused for every request (cached until it expires)
        assert [r.scopes for r in ts.requests] == [["repository:test/token:pull"]]
        assert ts.requests[0].authorization is None
        with pytest.raises(RegistryAuthError) as ei:
            img.push(anon, "test/token", "v2")
        assert "rpod login" in (ei.value.hint or "")


def test_token_auth_wrong_password_and_private_repo(token_registry: Registry) -> None:
    ts = token_registry.token_server
    assert ts is not None
    client = RegistryClient(
        token_registry.address, insecure=True, credentials=Credentials(token_registry.username or "", "nope")
    )
    with client as c, pytest.raises(RegistryAuthError, match="unauthorized: authentication required") as ei:
        c.get_manifest("test/token", "v1")
    assert "rejected the credentials" in (ei.value.hint or "")
    img = Image("private", layer_size=1000)
    with RegistryClient(token_registry.address, insecure=True, credentials=creds_of(token_registry)) as c:
        img.push(c, "test/private", "v1")
    ts.private_repos.add("test/private")
    try:
        with (
            RegistryClient(token_registry.address, insecure=True) as anon,
            pytest.raises(RegistryAuthError) as ei,
        ):
            anon.get_manifest("test/private", "v1")
        assert "test/private:v1" in str(ei.value)
    finally:
        ts.private_repos.discard("test/private")


# --------------------------------------------------------------------------- redirects, retries
def test_redirect_to_other_host_drops_credentials(flaky: FlakyProxy, tls_registry: Registry) -> None:
    img = Image("redirect")
    creds = creds_of(tls_registry)
    with RegistryClient(
        flaky.address, insecure=True, credentials=creds, certs_dir=tls_registry.cert_dir
    ) as c:
        img.push(c, "test/redirect", "v1")
        flaky.reset()
        flaky.redirect_blobs()
        data, stream = read_all(c, "test/redirect", sha(img.layer), offset=10)
    assert data == img.layer[10:]
    assert stream.partial
    first = [r for r in flaky.requests if r.action == "redirected"]
    assert first and first[0].authorization and first[0].authorization.startswith("Basic ")
    assert eventually(lambda: len(flaky.redirected) == 1), flaky.redirected
    assert flaky.redirected[0].authorization is None  # not forwarded to the storage host
    assert flaky.redirected[0].range == "bytes=10-"  # but the Range is


def test_transient_errors_are_retried(flaky: FlakyProxy, tls_registry: Registry) -> None:
    img = Image("retry", layer_size=5000)
    creds = creds_of(tls_registry)
    with RegistryClient(flaky.address, insecure=True, credentials=creds, backoff=0.01) as c:
        img.push(c, "test/retry", "v1")
        flaky.reset()
        flaky.fail_blobs(2)
        assert read_all(c, "test/retry", sha(img.layer))[0] == img.layer
        assert eventually(
            lambda: [r.status for r in flaky.requests if "/blobs/" in r.path] == [503, 503, 200]
        )
        flaky.fail_blobs(10)
        with pytest.raises(RegistryError, match="503"):
            c.open_blob("test/retry", sha(img.layer))


def test_cut_download_raises_then_resumes(flaky: FlakyProxy, tls_registry: Registry) -> None:
    img = Image("cut")
    creds = creds_of(tls_registry)
    with RegistryClient(flaky.address, insecure=True, credentials=creds, backoff=0.01) as c:
        img.push(c, "test/cut", "v1")
        flaky.cut_blobs(after=100_000)
        got = bytearray()
        stream = c.open_blob("test/cut", sha(img.layer))
        with pytest.raises(RegistryError, match="download of sha256:"):
            for chunk in stream.iter_chunks(8192):
                got += chunk
        stream.close()
        assert 0 < len(got) <= 100_000
        rest, stream = read_all(c, "test/cut", sha(img.layer), offset=len(got))
        assert stream.partial
        assert bytes(got) + rest == img.layer


# --------------------------------------------------------------------------- hostile server
class _Tamper(BaseHTTPRequestHandler):
    """Answers every manifest GET with ``body`` (whatever digest was asked for)."""

    body = b"{}"
    headers_out: dict[str, str] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = b"{}" if self.path == "/v2/" else self.body
        self.send_response(200)
        self.send_header("Content-Type", mt.OCI_MANIFEST)
        for k, v in self.headers_out.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on an oversized body, as it should


@pytest.fixture
def tamper() -> Iterator[tuple[str, type[_Tamper]]]:
    handler = type("Handler", (_Tamper,), {"body": b"{}", "headers_out": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_tampered_manifest_is_refused(tamper: tuple[str, type[_Tamper]]) -> None:
    address, handler = tamper
    handler.body = Image("tamper").manifest
    wanted = sha(b"the real manifest")
    with RegistryClient(address, insecure=True) as c:
        with pytest.raises(DigestMismatch) as ei:
            c.get_manifest("test/x", wanted)
        assert f"{address}/test/x@{wanted}" in str(ei.value)
        assert c.get_manifest("test/x", sha(handler.body)).digest == sha(handler.body)
        handler.headers_out = {"Docker-Content-Digest": wanted}
        with pytest.raises(DigestMismatch, match="Docker-Content-Digest"):
            c.get_manifest("test/x", "latest")


def test_oversized_manifest_is_refused(tamper: tuple[str, type[_Tamper]]) -> None:
    address, handler = tamper
    handler.body = b"{" + b" " * (4 << 20) + b"}"
    with RegistryClient(address, insecure=True) as c, pytest.raises(RegistryError, match="larger than"):
        c.get_manifest("test/x", "latest")
