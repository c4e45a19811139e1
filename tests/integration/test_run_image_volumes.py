"""An image's ``VOLUME``s at run time (anonymous volumes filled from the image, ``--image-volume``)
and ``run --volumes-from`` — what Podman's 070-build checks after building such an image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_build import build, write
from tests.support.rpodcli import RpodEnv, ok, run_rpod

pytestmark = pytest.mark.usefixtures("module_env")


def _image(env: RpodEnv, ctx: Path, tag: str) -> str:
    write(ctx, {"Containerfile": "FROM alpine\nRUN mkdir -p /data && echo seed > /data/f\nVOLUME /data\n"})
    ok(build(env, ctx, "-t", tag))
    return tag


def _volumes(env: RpodEnv) -> set[str]:
    return set(ok(run_rpod(env, "volume", "ls", "-q")).stdout.split())


def test_image_volumes_are_anonymous_volumes(module_env: RpodEnv, tmp_path: Path) -> None:
    img = _image(module_env, tmp_path, "withvol")
    before = _volumes(module_env)
    out = ok(run_rpod(module_env, "run", "--rm", img, "sh", "-c", "stat -c %D / /data; cat /data/f")).stdout.split()
    assert out[0] != out[1] and out[2] == "seed"  # its own device, filled from the image
    assert _volumes(module_env) == before  # run --rm removes the anonymous volume
    ok(run_rpod(module_env, "run", "--name", "keepvol", img, "true"))
    made = _volumes(module_env) - before
    assert len(made) == 1
    ok(run_rpod(module_env, "rm", "-v", "keepvol"))
    assert _volumes(module_env) == before
    same = ok(run_rpod(module_env, "run", "--rm", "--image-volume", "ignore", img, "stat", "-c", "%D", "/",
                       "/data")).stdout.split()
    assert same[0] == same[1]
    fs = ok(run_rpod(module_env, "run", "--rm", "--image-volume", "tmpfs", img, "stat", "-f", "-c", "%T",
                     "/data")).stdout.strip()
    assert fs == "tmpfs"
    bad = run_rpod(module_env, "run", "--rm", "--image-volume", "nope", img, "true")
    assert bad.returncode == 125 and "invalid image volume type" in bad.stderr


def test_volumes_from_another_container(module_env: RpodEnv, tmp_path: Path) -> None:
    img = _image(module_env, tmp_path, "withvol2")
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "h.txt").write_text("from host\n")
    ok(run_rpod(module_env, "run", "-d", "--name", "vsrc", "-v", f"{host}:/hostdir", img, "sleep", "1000"))
    try:
        ok(run_rpod(module_env, "exec", "vsrc", "sh", "-c", "echo written > /data/w"))
        out = ok(run_rpod(module_env, "run", "--rm", "--volumes-from", "vsrc", "alpine", "cat", "/data/w",
                          "/hostdir/h.txt")).stdout
        assert out == "written\nfrom host\n"
        ro = run_rpod(module_env, "run", "--rm", "--volumes-from", "vsrc:ro", "alpine", "touch", "/data/x")
        assert ro.returncode != 0 and "Read-only" in ro.stderr
        missing = run_rpod(module_env, "run", "--rm", "--volumes-from", "nosuchctr", "alpine", "true")
        assert missing.returncode == 125 and "nosuchctr" in missing.stderr
    finally:
        ok(run_rpod(module_env, "rm", "-f", "-v", "-t", "0", "vsrc"))


def test_host_proxy_variables_override_the_image(module_env: RpodEnv, tmp_path: Path) -> None:
    """Podman's --http-proxy (default true): the host's proxy variables over the image's ENV,
    under --env-file and -e; --http-proxy=false keeps the image's."""
    write(tmp_path, {"Containerfile": "FROM alpine\nENV ftp_proxy=ftp-in-image http_proxy=http-in-image\n"})
    ok(build(module_env, tmp_path, "-t", "proxyimg"))
    (tmp_path / "envfile").write_text("http_proxy=http-in-env-file\n")
    env = {**module_env, "ftp_proxy": "ftp-from-host", "http_proxy": "http-from-host", "NO_PROXY": "local"}
    cmd = ["run", "--rm", "--env-file", str(tmp_path / "envfile"), "proxyimg", "printenv", "ftp_proxy", "http_proxy",
           "NO_PROXY"]
    assert ok(run_rpod(env, *cmd)).stdout == "ftp-from-host\nhttp-in-env-file\nlocal\n"
    off = run_rpod(env, "run", "--rm", "--http-proxy=false", "proxyimg", "printenv", "ftp_proxy")
    assert ok(off).stdout == "ftp-in-image\n"
