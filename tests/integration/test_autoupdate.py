"""``rpod auto-update`` against the real test registry: a new image pushed under the same tag is
pulled and the container's unit restarted; a restart that fails rolls back to the old image;
without a systemd user manager the error says so.  systemd itself is played by
``tests.support.systemd_units`` (``$RPOD_SYSTEMCTL``), which runs the unit's own command lines."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.registry import Registry, skopeo
from tests.support.rpodcli import RpodEnv, ok, run_rpod

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT = "container-app.service"


@pytest.fixture
def fake_systemd(rpod_env: RpodEnv, tmp_path: Path) -> tuple[RpodEnv, Path, Path]:
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    log = tmp_path / "systemctl.log"
    log.touch()
    env = RpodEnv.__new__(RpodEnv)
    env.update(rpod_env)
    env.__dict__.update(rpod_env.__dict__)
    env.update({"RPOD_SYSTEMCTL": f"{sys.executable} -m tests.support.systemd_units",
                "FAKE_SYSTEMD_UNIT_DIR": str(unit_dir), "FAKE_SYSTEMCTL_LOG": str(log),
                "PYTHONPATH": str(REPO_ROOT)})
    return env, unit_dir, log


def push_as(registry: Registry, images: ImageSet, name: str, target: str) -> None:
    skopeo(["copy", *registry.skopeo_args("src"), *registry.skopeo_args("dest"),
            f"docker://{images.ref(name)}", f"docker://{target}"], images.workdir)


def table(r_stdout: str) -> list[list[str]]:
    return [line.split() for line in r_stdout.splitlines()]


def image_id(env: RpodEnv, ref: str) -> str:
    return ok(run_rpod(env, "image", "inspect", "-f", "{{.Id}}", ref)).stdout.strip()


def test_auto_update_pulls_restarts_and_rolls_back(fake_systemd: tuple[RpodEnv, Path, Path], images: ImageSet,
                                                  registry: Registry) -> None:
    env, unit_dir, log = fake_systemd
    ref = f"{registry.address}/autoupd/app-{os.getpid()}:1"
    push_as(registry, images, "alpine", ref)
    ok(run_rpod(env, "pull", "-q", ref))
    first = image_id(env, ref)
    # -u guest: alpine's passwd has it, busybox's has not, so a busybox under the tag cannot start
    ok(run_rpod(env, "create", "--name", "app", "-u", "guest", "--stop-timeout", "1", "--label", "io.containers.autoupdate=registry",
                ref, "sleep", "1000"))
    (unit_dir / UNIT).write_text(ok(run_rpod(env, "generate", "systemd", "--new", "--name", "app")).stdout)
    ok(run_rpod(env, "rm", "app"))
    r = ok(run_rpod(env, "auto-update", "--dry-run"))
    assert r.stdout == ""  # nothing runs yet
    # "systemctl --user start": the fake runs the unit's ExecStart
    from tests.support.systemd_units import run_lines

    assert run_lines((unit_dir / UNIT).read_text(), UNIT, ("ExecStartPre", "ExecStart"), dict(env)) == 0
    fmt = "{{.Image}} {{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}} {{.State.Status}}"
    assert ok(run_rpod(env, "inspect", "-f", fmt, "app")).stdout.split() == [first, UNIT, "running"]
    rows = table(ok(run_rpod(env, "auto-update", "--dry-run")).stdout)
    cid = ok(run_rpod(env, "inspect", "-f", "{{.Id}}", "app")).stdout.strip()
    assert rows == [["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"],
                    [UNIT, cid[:12], "(app)", ref, "registry", "false"]]

    # a new image under the same tag: pending, then pulled and the unit restarted on it
    push_as(registry, images, "zstd", ref)
    assert table(ok(run_rpod(env, "auto-update", "--dry-run")).stdout)[1][-1] == "pending"
    assert image_id(env, ref) == first  # a dry run pulls nothing
    r = ok(run_rpod(env, "auto-update"))
    assert table(r.stdout)[1][-1] == "true", r.stdout + r.stderr
    assert log.read_text().splitlines()[-1] == f"--user restart {UNIT}"
    second = image_id(env, ref)
    assert second != first
    assert ok(run_rpod(env, "inspect", "-f", fmt, "app")).stdout.split() == [second, UNIT, "running"]
    doc = json.loads(ok(run_rpod(env, "auto-update", "--dry-run", "--format", "json")).stdout)
    assert doc[0]["Updated"] == "false" and doc[0]["Unit"] == UNIT and doc[0]["Policy"] == "registry"

    # an image the unit cannot start with: the restart fails, the old image gets the tag back
    push_as(registry, images, "busybox", ref)
    r = run_rpod(env, "auto-update")
    assert r.returncode == 125, r.stdout + r.stderr
    assert r.stdout.splitlines()[1].endswith(" rolled back"), r.stdout + r.stderr
    assert f"rolled back to image {second[:12]}" in r.stderr
    assert log.read_text().splitlines()[-2:] == [f"--user restart {UNIT}"] * 2
    assert image_id(env, ref) == second
    assert ok(run_rpod(env, "inspect", "-f", fmt, "app")).stdout.split() == [second, UNIT, "running"]

    # the real systemctl without a user manager: a clear error, and the service keeps running
    real = {k: v for k, v in env.items() if k != "RPOD_SYSTEMCTL"}
    r = run_rpod(real, "auto-update")
    assert r.returncode == 125
    assert "restarting unit container-app.service" in r.stderr, r.stderr
    assert "systemd user manager" in r.stderr or "systemctl is not installed" in r.stderr, r.stderr
    no_systemctl = {**real, "PATH": str(Path(sys.executable).parent)}
    r = run_rpod(no_systemctl, "auto-update")
    assert r.returncode == 125 and "systemctl is not installed" in r.stderr, r.stderr
    ok(run_rpod(env, "rm", "-f", "-t", "0", "app"))


def test_auto_update_needs_the_unit_label(rpod_env: RpodEnv, images: ImageSet) -> None:
    ok(run_rpod(rpod_env, "run", "-d", "--name", "loose", "--label", "io.containers.autoupdate=registry",
                images.ref("alpine"), "sleep", "1000"))
    try:
        r = run_rpod(rpod_env, "auto-update", "--dry-run")
        assert r.returncode == 125
        assert "no PODMAN_SYSTEMD_UNIT label found" in r.stderr
    finally:
        ok(run_rpod(rpod_env, "rm", "-f", "-t", "0", "loose"))


def test_auto_update_local_policy_follows_a_retag(fake_systemd: tuple[RpodEnv, Path, Path],
                                                  images: ImageSet) -> None:
    env, unit_dir, log = fake_systemd
    ok(run_rpod(env, "pull", "-q", images.ref("alpine"), images.ref("zstd")))
    ok(run_rpod(env, "tag", images.ref("alpine"), "localhost/app:v1"))
    ok(run_rpod(env, "create", "--name", "app", "--stop-timeout", "1", "--label", "io.containers.autoupdate=local",
                "localhost/app:v1", "sleep", "1000"))
    (unit_dir / UNIT).write_text(ok(run_rpod(env, "generate", "systemd", "--new", "--name", "app")).stdout)
    ok(run_rpod(env, "rm", "app"))
    from tests.support.systemd_units import run_lines

    assert run_lines((unit_dir / UNIT).read_text(), UNIT, ("ExecStartPre", "ExecStart"), dict(env)) == 0
    try:
        assert ok(run_rpod(env, "auto-update", "--dry-run")).stdout.splitlines()[1].split()[-2:] == ["local", "false"]
        ok(run_rpod(env, "tag", images.ref("zstd"), "localhost/app:v1"))  # the name moves to another image
        assert ok(run_rpod(env, "auto-update", "--dry-run")).stdout.splitlines()[1].endswith(" pending")
        r = ok(run_rpod(env, "auto-update"))
        assert r.stdout.splitlines()[1].endswith(" true"), r.stdout
        assert log.read_text().splitlines() == [f"--user restart {UNIT}"]
        assert ok(run_rpod(env, "inspect", "-f", "{{.Image}}", "app")).stdout.strip() == \
            ok(run_rpod(env, "image", "inspect", "-f", "{{.Id}}", images.ref("zstd"))).stdout.strip()
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "--ignore", "app"))


def test_registry_policy_needs_a_fully_qualified_docker_reference(rpod_env: RpodEnv, images: ImageSet,
                                                                   tmp_path: Path) -> None:
    """255-auto-update: ``io.containers.autoupdate=registry`` (or ``image``) refuses a short name
    and another transport at create, with Podman's words; ``local`` takes any name."""
    env, full = rpod_env, images.ref("alpine")
    label = ("--label", "io.containers.autoupdate=registry")
    cid = ok(run_rpod(env, "create", *label, full, "true")).stdout.strip()
    ok(run_rpod(env, "rm", cid))
    ok(run_rpod(env, "tag", full, "shortname:latest"))
    r = run_rpod(env, "create", *label, "shortname:latest", "true")
    assert (r.returncode, r.stderr) == (
        125, 'Error: short name: auto updates require fully-qualified image reference: "shortname:latest"\n')
    r = run_rpod(env, "create", "--label", "io.containers.autoupdate=image", "shortname:latest", "true")
    assert r.returncode == 125 and "short name: auto updates" in r.stderr
    archive = tmp_path / "a.tar"
    ok(run_rpod(env, "save", "-o", str(archive), full))
    r = run_rpod(env, "create", *label, f"docker-archive:{archive}", "true")
    assert r.returncode == 125
    assert r.stderr.endswith('Error: auto updates require the docker image transport but image is of transport '
                             '"docker-archive"\n'), r.stderr
    cid = ok(run_rpod(env, "create", "--label", "io.containers.autoupdate=local", "shortname:latest", "true")).stdout
    ok(run_rpod(env, "rm", cid.strip()))
    ok(run_rpod(env, "rmi", "shortname:latest"))
