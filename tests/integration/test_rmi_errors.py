"""``rmi`` errors as Podman 4.3.1 prints them (010-images "rmi -af removes all containers and pods"):
one error as ``Error: ...``, several joined go-multierror style, exit 2 when an image is in use."""

from __future__ import annotations

from tests.support.rpodcli import RpodEnv, ok, run_rpod

INUSE = "image is in use by a container: consider listing external containers and force-removing image"


def test_rmi_in_use_errors_single_and_joined(env: RpodEnv) -> None:
    ok(run_rpod(env, "create", "--name", "ua", "alpine", "true"))
    r = run_rpod(env, "rmi", "alpine")
    assert r.returncode == 2 and r.stderr == f"Error: image used by ua: {INUSE}\n"
    ok(run_rpod(env, "create", "--name", "ub", "layered", "true"))
    r = run_rpod(env, "rmi", "-a")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "Error: 2 errors occurred:"
    assert sorted(lines[1:]) == [f"\t* image used by ua: {INUSE}", f"\t* image used by ub: {INUSE}"]
    r = run_rpod(env, "rmi", "nosuch1", "nosuch2")
    assert r.returncode == 1 and r.stderr.startswith("Error: 2 errors occurred:\n\t* ")
    r = ok(run_rpod(env, "rmi", "-af"))
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""


def _pause_image(env: RpodEnv) -> str:
    ver = ok(run_rpod(env, "version", "--format", "{{.Server.Version}}-{{.Server.Built}}")).stdout.strip()
    return f"localhost/podman-pause:{ver}"


def test_rmi_force_of_the_infra_image_removes_the_pod(env: RpodEnv) -> None:
    """Podman's RemoveContainersForImageCallback: an infra container using the image takes its pod,
    members included; the member's image stays."""
    ok(run_rpod(env, "create", "--pod", "new:rmpod", "alpine", "true"))
    pause = _pause_image(env)
    pause_id = ok(run_rpod(env, "inspect", "--format", "{{.ID}}", pause)).stdout.strip()
    r = run_rpod(env, "rmi", pause)
    assert r.returncode == 2 and r.stderr.endswith(f"-infra: {INUSE}\n"), r.stderr
    r = ok(run_rpod(env, "rmi", "-f", pause))
    assert r.stdout == f"Untagged: {pause}\nDeleted: {pause_id}\n"
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""
    ok(run_rpod(env, "image", "exists", "alpine"))


def test_rmi_all_prints_every_untagged_line_before_the_deleted_ones(env: RpodEnv) -> None:
    ok(run_rpod(env, "tag", "alpine", "first:1"))
    ok(run_rpod(env, "tag", "layered", "second:1"))
    r = ok(run_rpod(env, "rmi", "first:1", "second:1", "alpine", "layered"))
    lines = r.stdout.splitlines()
    kinds = [ln.split(":", 1)[0] for ln in lines]
    assert kinds == sorted(kinds, key=lambda k: k != "Untagged") and "Deleted" in kinds, lines
    assert lines[:2] == ["Untagged: localhost/first:1", "Untagged: localhost/second:1"], lines


def test_new_names_are_appended_as_containers_storage_does(env: RpodEnv) -> None:
    """RepoTags and the images rows keep the order names were given (c/storage's AddNames appends):
    scripts such as Podman's test setup find the original name before a later tag."""
    first = ok(run_rpod(env, "inspect", "--format", "{{index .RepoTags 0}}", "alpine")).stdout.strip()
    ok(run_rpod(env, "tag", "alpine", "zzz:1"))
    ok(run_rpod(env, "tag", "alpine", "aaa:1"))
    tags = ok(run_rpod(env, "inspect", "--format", "{{range .RepoTags}}{{.}} {{end}}", "alpine")).stdout.split()
    assert tags == [first, "localhost/zzz:1", "localhost/aaa:1"]
    iid = ok(run_rpod(env, "inspect", "--format", "{{.ID}}", "alpine")).stdout.strip()[:12]
    rows = ok(run_rpod(env, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")).stdout.splitlines()
    assert [r.split()[0] for r in rows if r.endswith(iid)] == tags, rows
