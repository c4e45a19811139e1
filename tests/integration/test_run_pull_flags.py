"""``run``/``create`` pull with their own ``--platform``, ``--arch``, ``--os`` and ``-q`` (Podman's
behaviour: the pull of a missing image prints its progress on stderr unless ``-q``)."""

from __future__ import annotations

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def _image_of(env: RpodEnv, ctr: str) -> str:
    return ok(run_rpod(env, "inspect", "--format", "{{.Image}}", ctr)).stdout.strip()


def test_create_pulls_the_asked_architecture(rpod_env: RpodEnv, images: ImageSet) -> None:
    multi = images["multiarch"]
    ok(run_rpod(rpod_env, "create", "-q", "--name", "arm", "--arch", "arm64", "multiarch", "true"))
    assert _image_of(rpod_env, "arm") == multi.platforms["linux/arm64/v8"].image_id
    ok(run_rpod(rpod_env, "create", "-q", "--name", "amd", "--pull", "always", "--platform", "linux/amd64",
                "multiarch", "true"))
    assert _image_of(rpod_env, "amd") == multi.platforms["linux/amd64"].image_id
    r = run_rpod(rpod_env, "create", "--pull", "always", "--platform", "linux/s390x", "multiarch", "true")
    assert r.returncode == 125 and "linux/s390x" in r.stderr and "linux/arm64" in r.stderr


def test_run_shows_the_pull_unless_quiet(rpod_env: RpodEnv, images: ImageSet) -> None:
    r = ok(run_rpod(rpod_env, "create", "busybox", "true"))
    assert f"Copying blob {images['busybox'].layer_digests[0]} done" in r.stderr
    assert len(r.stdout.split()) == 1  # the container id only
    r = ok(run_rpod(rpod_env, "run", "--rm", "-q", "--pull", "always", "alpine", "true"))
    assert r.stderr == "" and r.stdout == ""
    r = ok(run_rpod(rpod_env, "run", "--rm", "alpine", "true"))  # present: nothing to report
    assert r.stderr == ""
