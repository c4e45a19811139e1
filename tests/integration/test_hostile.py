"""A hostile registry (tests/support/hostile_registry.py) against a real ``rpod pull``: endless
blobs, missing sizes, wrong digests, oversized manifests, decompression bombs, hostile configs,
a redirect to another port with credentials configured, slow responses (issue 14, defects 2, 3,
9, 10).  Each refusal is one ``Error:`` line and exit 125; nothing is written outside the store,
nothing is left in it, and the pull's peak RSS and the store's size stay bounded."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile_registry import OCI_LAYER, OCI_LAYER_GZIP, HostileRegistry, digest_of
from tests.support.images import TestImage
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv, ok, run_rpod
from tests.support.tarbuild import Entry, build_tar, dir_entries

MiB = 1 << 20
RSS_LIMIT_KB = 200 * 1024  # an endless config once took 1 GiB
STORE_LIMIT = 64 * MiB  # an endless layer once took 1 GiB of disk


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileRegistry]:
    reg = HostileRegistry().start()
    yield reg
    reg.stop()


@pytest.fixture
def henv(tmp_path: Path, hostile: HostileRegistry, registry: Registry) -> Iterator[RpodEnv]:
    env = RpodEnv(tmp_path / "rpod")
    env.write_registries_conf(search=[registry.address], insecure=[hostile.address, registry.address])
    yield env
    env.cleanup()


@pytest.fixture(scope="module")
def alpine_layer(built_images: dict[str, TestImage]) -> tuple[bytes, bytes, str]:
    img = built_images["alpine"]
    blob = (img.layout / "blobs" / "sha256" / img.layer_digests[0].split(":", 1)[1]).read_bytes()
    return blob, gzip.decompress(blob), OCI_LAYER_GZIP


def _layer(entries: list[Entry], compressed: bool = True) -> tuple[bytes, bytes, str]:
    tar = build_tar(entries)
    return (gzip.compress(tar, mtime=0), tar, OCI_LAYER_GZIP) if compressed else (tar, tar, OCI_LAYER)


def _tree(base: Path, skip: tuple[Path, ...]) -> set[str]:
    out = set()
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if Path(root, d) not in skip]
        out.update(os.path.join(root, f) for f in files)
    return out


def _du(path: Path) -> int:
    r = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(r.stdout.split()[0]) if r.returncode == 0 else 0


def pull_measured(env: RpodEnv, ref: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], int]:
    """``rpod pull REF`` in a fresh wrapper process: the result and the pull's peak RSS (kB)."""
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[2:], capture_output=True, text=True); "
               "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
               "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
               "sys.exit(r.returncode)")
    fd, name = tempfile.mkstemp(prefix="rss-")
    os.close(fd)
    rss_file = Path(name)
    r = subprocess.run([sys.executable, "-c", wrapper, str(rss_file), sys.executable, "-m", "rpod", "pull", ref],
                       env=env, capture_output=True, text=True, timeout=timeout, cwd=env.home)
    try:
        return r, int(rss_file.read_text())
    finally:
        rss_file.unlink()


def refused(env: RpodEnv, ref: str, *words: str) -> str:
    """The pull fails with exit 125 and one Error: line naming ``words``; nothing stays behind."""
    store = env.data_home / "rpod"
    skip = (store,)
    before = _tree(env.base, skip)
    r, rss = pull_measured(env, ref)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert r.returncode == 125, r.stderr
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} kB"
    assert _du(store) < STORE_LIMIT, f"store is {_du(store)} bytes"
    assert _tree(env.base, skip) - before == set(), "files written outside the store"
    assert ok(run_rpod(env, "images", "-q")).stdout == ""
    for sub in ("tmp", "partial", "layers"):
        left = list((store / sub).iterdir()) if (store / sub).is_dir() else []
        assert left == [], f"{sub}/ keeps {left}"
    return errors[0]


# ---------------------------------------------------------------- unbounded input (defect 2)
def test_endless_config_without_size(henv: RpodEnv, hostile: HostileRegistry,
                                     alpine_layer: tuple[bytes, bytes, str]) -> None:
    hostile.put_image("endless-config", [alpine_layer], config_behaviour="endless", config_size=False,
                      config={"Cmd": ["sh"]})
    refused(henv, f"{hostile.address}/endless-config", "4194304 bytes")


def test_endless_uncompressed_layer_without_size(henv: RpodEnv, hostile: HostileRegistry) -> None:
    hostile.put_image("endless-layer", [_layer([*dir_entries("etc")], compressed=False)],
                      layer_behaviours=["endless"], layer_sizes=[False])
    refused(henv, f"{hostile.address}/endless-layer", "after the end of the tar archive")


def test_endless_layer_with_size_stops_at_its_size(henv: RpodEnv, hostile: HostileRegistry) -> None:
    hostile.put_image("endless-sized", [_layer([*dir_entries("etc")], compressed=False)],
                      layer_behaviours=["endless"])
    refused(henv, f"{hostile.address}/endless-sized", "more than the", "bytes the manifest declares")


def test_wrong_digest(henv: RpodEnv, hostile: HostileRegistry) -> None:
    hostile.put_image("wrong", [_layer([*dir_entries("etc"), Entry("etc/x", data=b"x" * 5000)])],
                      layer_behaviours=["wrong"])
    refused(henv, f"{hostile.address}/wrong", "corrupt")


def test_oversized_and_endless_manifests(henv: RpodEnv, hostile: HostileRegistry) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {}, "layers": [], "pad": "x" * (5 * MiB)}).encode()
    hostile.put_manifest("big", "latest", body)
    refused(henv, f"{hostile.address}/big", "larger than")
    hostile.put_manifest("endless-manifest", "latest", b'{"schemaVersion": 2, "pad": "', behaviour="endless")
    refused(henv, f"{hostile.address}/endless-manifest", "manifest")


# ---------------------------------------------------------------- decompression bomb (defect 3)
def test_decompression_bomb(henv: RpodEnv, hostile: HostileRegistry) -> None:
    size = 256 * MiB  # ~260 kB of gzip; refused after 64 MiB of output (ratio > 200)
    info = tarfile.TarInfo("zeros")
    info.size = size
    head = info.tobuf(tarfile.PAX_FORMAT)
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [comp.compress(head)]
    block = b"\0" * MiB
    for _ in range(size // MiB):
        parts.append(comp.compress(block))
    parts.append(comp.compress(b"\0" * 1024))
    parts.append(comp.flush())
    blob = b"".join(parts)
    # the diff_id cannot be computed without expanding it: any digest will do, rpod stops before
    hostile.put_image("bomb", [(blob, b"not-the-tar", OCI_LAYER_GZIP)])
    refused(henv, f"{hostile.address}/bomb", "decompression bomb", "RPOD_MAX_LAYER_RATIO")


# ---------------------------------------------------------------- hostile configs (defect 10)
@pytest.mark.parametrize(("config", "words"), [
    ({"Cmd": {"sh": 1}}, ["config.Cmd", "array of strings"]),
    ({"Entrypoint": "echo pwned"}, ["config.Entrypoint", "array of strings"]),
    ({"Env": ["A=1", 2]}, ["config.Env"]),
    ({"ExposedPorts": ["80/tcp"]}, ["config.ExposedPorts"]),
    ({"Labels": {"a": 1}}, ["config.Labels"]),
    ({"WorkingDir": ["/"]}, ["config.WorkingDir"]),
])
def test_hostile_config_types(henv: RpodEnv, hostile: HostileRegistry, alpine_layer: tuple[bytes, bytes, str],
                              config: dict[str, object], words: list[str]) -> None:
    name = "cfg-" + digest_of(json.dumps(config).encode())[7:19]
    hostile.put_image(name, [alpine_layer], config=config)
    refused(henv, f"{hostile.address}/{name}", *words)


def test_digest_that_is_a_path(henv: RpodEnv, hostile: HostileRegistry) -> None:
    """A layer digest ``sha256:../../x`` would name a file outside the store (partial/<hex>)."""
    blob, tar, mtype = _layer([*dir_entries("etc")])
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(tar)]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": hostile.blob(config, "application/vnd.oci.image.config.v1+json"),
                "layers": [{"mediaType": mtype, "digest": "sha256:../../../../escaped", "size": len(blob)}]}
    hostile.put_manifest("dotdot-digest", "latest", json.dumps(manifest).encode())
    refused(henv, f"{hostile.address}/dotdot-digest", "invalid digest")
    assert not (henv.data_home / "escaped").exists() and not (henv.home / "escaped").exists()


# ---------------------------------------------------------------- setuid owned by an unmapped id (defect 9)
def test_setuid_file_of_an_unmapped_uid_is_refused(henv: RpodEnv, hostile: HostileRegistry) -> None:
    layer = _layer([*dir_entries("bin"), Entry("bin/evil", data=b"#!/bin/sh\n", mode=0o4755, uid=4000000)])
    hostile.put_image("setuid-unmapped", [layer])
    refused(henv, f"{hostile.address}/setuid-unmapped", "potentially insufficient UIDs", "4000000")


def test_setuid_file_of_a_mapped_uid_keeps_its_bits(henv: RpodEnv, hostile: HostileRegistry,
                                                    alpine_layer: tuple[bytes, bytes, str]) -> None:
    layer = _layer([Entry("usr/local/bin/ok", data=b"#!/bin/sh\n", mode=0o4755, uid=1000)])
    hostile.put_image("setuid-mapped", [alpine_layer, layer], config={"Cmd": ["sh"]})
    ok(run_rpod(henv, "pull", "-q", f"{hostile.address}/setuid-mapped"))
    out = ok(run_rpod(henv, "run", "--rm", "--network", "none", f"{hostile.address}/setuid-mapped",
                      "stat", "-c", "%A %u", "/usr/local/bin/ok")).stdout
    assert out == "-rwsr-xr-x 1000\n"


# ---------------------------------------------------------------- a sparse map of 2**70 (defect 4)
def test_sparse_offset_2_70_in_a_pulled_layer(henv: RpodEnv, hostile: HostileRegistry) -> None:
    ti = tarfile.TarInfo("f")
    ti.size = 1
    ti.pax_headers = {"GNU.sparse.map": f"{2**70},1", "GNU.sparse.numblocks": "1",
                      "GNU.sparse.size": str(2**70 + 1), "GNU.sparse.name": "f"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b"x"))
    tar = buf.getvalue()
    hostile.put_image("sparse-2-70", [(gzip.compress(tar, mtime=0), tar, OCI_LAYER_GZIP)])
    refused(henv, f"{hostile.address}/sparse-2-70", "sparse")


# ---------------------------------------------------------------- redirects, credentials, slowness
def test_redirect_to_another_port_never_gets_the_credentials(tmp_path: Path, registry: Registry,
                                                             alpine_layer: tuple[bytes, bytes, str]) -> None:
    reg = HostileRegistry(username="u", password="secret-pw").start()
    env = RpodEnv(tmp_path / "rpod")
    try:
        env.write_registries_conf(search=[registry.address], insecure=[reg.address])
        env.write_auth(reg)  # type: ignore[arg-type]  # duck-typed: address, username, password
        reg.put_image("redirected", [alpine_layer], config={"Cmd": ["sh"]}, layer_behaviours=["redirect"])
        ok(run_rpod(env, "pull", "-q", f"{reg.address}/redirected"))
        assert reg.served_bytes(digest_of(alpine_layer[0])) >= len(alpine_layer[0])  # the side server sent it
        assert reg.state.auth_seen_by_side == []
    finally:
        reg.stop()
        env.cleanup()


def test_slow_registry_is_waited_for(henv: RpodEnv, hostile: HostileRegistry) -> None:
    layer = _layer([*dir_entries("etc"), Entry("etc/slow", data=os.urandom(16 * 1024))])
    hostile.put_image("slow", [layer], layer_behaviours=["slow"])
    ok(run_rpod(henv, "pull", "-q", f"{hostile.address}/slow", timeout=120))


# ---------------------------------------------------------------- a pull racing an rmi (defect 1)
def test_pull_racing_rmi_of_an_image_sharing_a_layer(henv: RpodEnv, hostile: HostileRegistry,
                                                     alpine_layer: tuple[bytes, bytes, str]) -> None:
    """The pull finds alpine's layer present and fetches its own second layer; meanwhile ``rmi``
    removes alpine (the layer's only recorded user).  The pull's lease keeps the layer."""
    hostile.put_image("base-for-race", [alpine_layer], config={"Cmd": ["sh"]})
    ok(run_rpod(henv, "pull", "-q", f"{hostile.address}/base-for-race"))
    top = _layer([*dir_entries("etc"), Entry("etc/top", data=os.urandom(64 * 1024))])
    hostile.put_image("shares-base", [alpine_layer, top], config={"Cmd": ["sh"]}, layer_behaviours=["", "gate"])
    hostile.state.gate.clear()
    started = hostile.state.started.setdefault(digest_of(top[0]), threading.Event())
    started.clear()
    pull = subprocess.Popen([sys.executable, "-m", "rpod", "pull", "-q", f"{hostile.address}/shares-base"],
                            env=henv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=henv.home)
    try:
        assert started.wait(60), "the pull never asked for its second layer"
        ok(run_rpod(henv, "rmi", f"{hostile.address}/base-for-race"))
    finally:
        hostile.state.gate.set()
        out, err = pull.communicate(timeout=120)
    assert pull.returncode == 0, err
    r = ok(run_rpod(henv, "run", "--rm", "--network", "none", f"{hostile.address}/shares-base",
                    "cat", "/etc/alpine-release"))
    assert r.stdout.strip() == "3.20.3"
    ok(run_rpod(henv, "system", "check"))
