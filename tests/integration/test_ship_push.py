"""``rpod push``, ``save`` and ``load`` against real registries, skopeo and Podman 4.3.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.leaks import stop_podman
from tests.support.registry import Registry, skopeo
from tests.support.rpodcli import RpodEnv, ok, run_rpod

PODMAN = shutil.which("podman") or "/usr/bin/podman"


def _inspect_raw(ref: str, registry: Registry, workdir: Path) -> dict:
    out = skopeo(["inspect", "--raw", *registry.skopeo_args(), f"docker://{ref}"], workdir).stdout
    return json.loads(out)


def test_push_pulled_image_keeps_digests_and_runs_after_pull_back(env: RpodEnv, registry: Registry,
                                                                     images: ImageSet, tmp_path: Path) -> None:
    """A pulled image pushed elsewhere keeps its manifest (so config and diff_ids); the second push
    of its layers to another repository is a cross-repository mount; it pulls back and runs."""
    layered = images["layered"]
    dest = f"{registry.address}/pushed/layered:v1"
    digestfile = tmp_path / "digest"
    r = ok(run_rpod(env, "push", "--digestfile", str(digestfile), images.ref("layered"), dest))
    assert "Writing manifest to image destination" in r.stderr
    assert digestfile.read_text() == layered.manifest_digest
    raw = _inspect_raw(dest, registry, tmp_path)
    assert raw["config"]["digest"] == layered.config_digest
    assert [d["digest"] for d in raw["layers"]] == list(layered.layer_digests)
    # pushing again: every blob is already there
    again = ok(run_rpod(env, "push", images.ref("layered"), dest))
    assert "skipped: already exists" in again.stderr and "Copying blob" in again.stderr
    # skopeo copies what rpod pushed (every blob readable and matching)
    skopeo(["copy", "--quiet", *registry.skopeo_args("src"), f"docker://{dest}", f"oci:{tmp_path / 'copy'}:x"],
           tmp_path)
    fresh = RpodEnv(tmp_path / "fresh")
    fresh.write_registries_conf(search=[registry.address], insecure=[registry.address])
    try:
        ok(run_rpod(fresh, "pull", "-q", dest))
        assert ok(run_rpod(fresh, "image", "inspect", "--format", "{{.Id}}", dest)).stdout.strip() == layered.image_id
        assert ok(run_rpod(fresh, "run", "--rm", "--network=none", dest, "cat", "/etc/alpine-release")).stdout.strip() == "3.20.3"
    finally:
        fresh.cleanup()


def test_push_to_token_registry_with_push_scope(env: RpodEnv, token_registry: Registry, images: ImageSet,
                                                tmp_path: Path) -> None:
    dest = f"{token_registry.address}/team/app:1"
    denied = run_rpod(env, "push", "--tls-verify=false", images.ref("alpine", "latest"), dest)
    assert denied.returncode == 125 and "authentication required" in denied.stderr, denied.stderr
    ok(run_rpod(env, "push", "--tls-verify=false", "--creds", f"{token_registry.username}:{token_registry.password}",
                "--format", "v2s2", images.ref("alpine", "latest"), dest))
    raw = _inspect_raw(dest, token_registry, tmp_path)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert raw["config"]["digest"] == images["alpine"].config_digest


def test_push_tls_registry_with_authfile_and_zstd(env: RpodEnv, tls_registry: Registry, images: ImageSet,
                                                  tmp_path: Path) -> None:
    env.trust(tls_registry)
    authfile = env.write_auth(tls_registry)
    dest = f"{tls_registry.address}/z/layered:zstd"
    ok(run_rpod(env, "push", "--authfile", str(authfile), "--compression-format", "zstd", images.ref("layered"),
                dest))
    raw = _inspect_raw(dest, tls_registry, tmp_path)
    assert {d["mediaType"] for d in raw["layers"]} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    assert raw["config"]["digest"] == images["layered"].config_digest  # same diff_ids, same image


def test_push_mounts_known_blobs_and_uploads_new_ones_in_chunks(env: RpodEnv, registry: Registry, images: ImageSet,
                                                                 tmp_path: Path) -> None:
    """Blobs the registry has in the image's source repository are mounted (no upload); a new blob
    above the monolithic limit goes up in PATCH chunks (the limit forced small by the env knob)."""
    dest = f"{registry.address}/mounted/alpine:1"
    ok(run_rpod(env, "push", images.ref("alpine", "latest"), dest))
    assert _inspect_raw(dest, registry, tmp_path)["config"]["digest"] == images["alpine"].config_digest
    assert "POST /v2/mounted/alpine/blobs/uploads/?mount=sha256" in registry.log_tail(400)
    from tests.support.images import ALPINE_X86_64

    ok(run_rpod(env, "import", "-q", "--change", "ENV A=1", str(ALPINE_X86_64), "imported:1"))
    dest = f"{registry.address}/chunked/imported:1"
    ok(run_rpod({**env, "RPOD_PUSH_CHUNK": "262144"}, "push", "imported:1", dest))
    assert "PATCH /v2/chunked/imported/blobs/uploads/" in registry.log_tail(400)
    fresh = RpodEnv(tmp_path / "fresh")
    fresh.write_registries_conf(search=[registry.address], insecure=[registry.address])
    try:
        out = ok(run_rpod(fresh, "run", "--rm", "--network=none", dest, "sh", "-c", "echo $A; cat /etc/alpine-release")).stdout
        assert out.split() == ["1", "3.20.3"]
    finally:
        fresh.cleanup()


def test_push_to_oci_dir_and_archives(env: RpodEnv, images: ImageSet, tmp_path: Path) -> None:
    ref = images.ref("layered")
    ok(run_rpod(env, "push", ref, f"oci:{tmp_path / 'layout'}:mytag"))
    ok(run_rpod(env, "push", ref, f"oci-archive:{tmp_path / 'o.tar'}"))
    ok(run_rpod(env, "push", ref, f"docker-archive:{tmp_path / 'd.tar'}"))
    ok(run_rpod(env, "push", ref, f"dir:{tmp_path / 'dir'}"))
    for src in (f"oci:{tmp_path / 'layout'}:mytag", f"oci-archive:{tmp_path / 'o.tar'}",
                f"docker-archive:{tmp_path / 'd.tar'}", f"dir:{tmp_path / 'dir'}"):
        cfg = json.loads(skopeo(["inspect", "--config", src], tmp_path).stdout)
        assert cfg["rootfs"]["diff_ids"] == list(images["layered"].diff_ids), src


def _podman(env: RpodEnv, *args: str, input_bytes: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PODMAN, "--cgroup-manager", "cgroupfs", "--events-backend", "file", *args], env=env,
                          input=input_bytes, capture_output=True, timeout=300, cwd=env["HOME"])


@pytest.mark.podman
def test_save_load_round_trips_with_podman(env: RpodEnv, images: ImageSet, tmp_path: Path) -> None:
    """rpod save | podman load, podman save | rpod load (docker-archive and oci-archive), and both run."""
    ref = images.ref("layered")
    penv = RpodEnv(tmp_path / "podman")
    try:
        for fmt in ("docker-archive", "oci-archive"):
            saved = subprocess.run([sys.executable, "-m", "rpod", "save", "--format", fmt, ref], env=env,
                                   capture_output=True, timeout=300, cwd=env["HOME"])
            assert saved.returncode == 0, saved.stderr
            loaded = _podman(penv, "load", input_bytes=saved.stdout)
            assert loaded.returncode == 0, loaded.stderr
            got = _podman(penv, "image", "inspect", "--format", "{{.Id}}", ref)
            assert got.stdout.decode().strip() == images["layered"].image_id, fmt
            run = _podman(penv, "run", "--rm", "--network=none", ref, "cat", "/etc/alpine-release")
            assert run.stdout.decode().strip() == "3.20.3", run.stderr
        ok(run_rpod(env, "rmi", "-f", ref))
        for fmt in ("docker-archive", "oci-archive"):
            archive = tmp_path / f"podman-{fmt}.tar"
            r = _podman(penv, "save", "--format", fmt, "-o", str(archive), ref)
            assert r.returncode == 0, r.stderr
            out = ok(run_rpod(env, "load", "-i", str(archive)))
            assert f"Loaded image: {ref}" in out.stdout or "Loaded image" in out.stdout
            assert ok(run_rpod(env, "image", "inspect", "--format", "{{.Id}}", ref)).stdout.strip() == \
                images["layered"].image_id
            assert ok(run_rpod(env, "run", "--rm", "--network=none", ref, "cat", "/etc/alpine-release")).stdout.strip() == "3.20.3"
            ok(run_rpod(env, "rmi", "-f", ref))
    finally:
        stop_podman([PODMAN], penv, penv.base)
        penv.cleanup()


def test_save_multi_image_gzip_stdin_and_terminal_refusal(env: RpodEnv, images: ImageSet, tmp_path: Path) -> None:
    archive = tmp_path / "multi.tar"
    ok(run_rpod(env, "save", "-m", "-o", str(archive), images.ref("alpine", "latest"), images.ref("layered")))
    import gzip

    gz = tmp_path / "multi.tar.gz"
    gz.write_bytes(gzip.compress(archive.read_bytes(), 1))
    ok(run_rpod(env, "rmi", "-f", images.ref("alpine", "latest"), images.ref("layered")))
    with open(gz, "rb") as f:
        r = subprocess.run([sys.executable, "-m", "rpod", "load"], stdin=f, env=env, capture_output=True,
                           text=True, timeout=300, cwd=env["HOME"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"Loaded image: {images.ref('alpine', 'latest')}", f"Loaded image: {images.ref('layered')}"]
    # a skopeo-written OCI layout directory is not an archive: load says what it takes
    bad = run_rpod(env, "load", "-i", str(tmp_path / "missing.tar"))
    assert bad.returncode == 125 and "Error:" in bad.stderr


def test_loaded_docker_archive_pushes_gzipped_with_same_config(env: RpodEnv, registry: Registry, images: ImageSet,
                                                               tmp_path: Path) -> None:
    """A docker-archive's layers are stored as they came (uncompressed); a push gzips them, and the
    image (config, diff_ids) stays the same, twice in a row with the same digests."""
    ref = images.ref("layered")
    archive = tmp_path / "d.tar"
    ok(run_rpod(env, "save", "-o", str(archive), ref))
    ok(run_rpod(env, "rmi", "-f", ref))
    ok(run_rpod(env, "load", "-q", "-i", str(archive)))
    dest = f"{registry.address}/fromload/layered:1"
    ok(run_rpod(env, "push", "--tls-verify=false", ref, dest))
    raw = _inspect_raw(dest, registry, tmp_path)
    assert raw["config"]["digest"] == images["layered"].config_digest
    assert {d["mediaType"] for d in raw["layers"]} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}
    again = ok(run_rpod(env, "push", "--tls-verify=false", ref, dest))
    assert again.stderr.count("skipped: already exists") >= len(raw["layers"])


@pytest.mark.podman
def test_image_pushed_by_rpod_runs_under_podman(rpod_env: RpodEnv, token_registry: Registry, tmp_path: Path) -> None:
    """The offline path end to end: import the minirootfs, push it to the token registry (push
    scope), and Podman pulls and runs what rpod pushed."""
    from tests.support.images import ALPINE_X86_64

    creds = f"{token_registry.username}:{token_registry.password}"
    dest = f"{token_registry.address}/ci/app:1"
    ok(run_rpod(rpod_env, "import", "-q", "--change", "CMD cat /etc/alpine-release", str(ALPINE_X86_64), dest))
    ok(run_rpod(rpod_env, "push", "--tls-verify=false", "--creds", creds, dest))
    penv = RpodEnv(tmp_path / "podman")
    try:
        pulled = _podman(penv, "pull", "-q", "--tls-verify=false", "--creds", creds, dest)
        assert pulled.returncode == 0, pulled.stderr
        run = _podman(penv, "run", "--rm", "--network=none", dest)
        assert run.stdout.decode().strip() == "3.20.3", run.stderr
    finally:
        stop_podman([PODMAN], penv, penv.base)
        penv.cleanup()


def test_load_from_url_invalid_payload_and_uncompressed_oci(env: RpodEnv, images: ImageSet, tmp_path: Path) -> None:
    """As Podman's 120-load: load -i http://..., a corrupt payload's diagnostic, save --uncompressed."""
    import functools
    import http.server
    import tarfile
    import threading

    ref = images.ref("layered")
    archive = tmp_path / "serve" / "image.tar"
    archive.parent.mkdir()
    ok(run_rpod(env, "save", "-o", str(archive), ref))
    ok(run_rpod(env, "rmi", "-f", ref))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = ok(run_rpod(env, "load", "-i", f"http://127.0.0.1:{server.server_address[1]}/image.tar")).stdout
    finally:
        server.shutdown()
        server.server_close()
    assert out == f"Loaded image: {ref}\n"
    assert ok(run_rpod(env, "image", "inspect", "--format", "{{.Id}}", ref)).stdout.strip() == \
        images["layered"].image_id
    bad = run_rpod(env, "load", input="Danger, Will Robinson!! This is a corrupt tarball!\n")
    assert bad.returncode == 125 and "payload does not match any of the supported image formats:" in bad.stderr
    oci = tmp_path / "u.tar"
    ok(run_rpod(env, "save", "--format", "oci-archive", "--uncompressed", "-o", str(oci), ref))
    with tarfile.open(oci) as tar:
        blobs = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("blobs/") and m.size > 1024]
        assert blobs and all(tar.extractfile(m).read(262)[257:262] == b"ustar" for m in blobs)  # type: ignore[union-attr]
