"""``rpod cp`` where Podman's own system tests look (065-cp.bats): pflag's ``-a=false``, the hidden
``--pause``/``--extract``, Podman's "file exists" conflicts, host destinations that are neither a
directory nor a regular file, tmpfs copy-up and nested volumes of a container that never ran."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod


@pytest.fixture(scope="module")
def env(module_env: RpodEnv) -> RpodEnv:
    return module_env


def sh(env: RpodEnv, ctr: str, script: str) -> str:
    return ok(run_rpod(env, "exec", ctr, "sh", "-c", script)).stdout


@pytest.fixture
def pair(env: RpodEnv) -> Iterator[tuple[str, str]]:
    """Two running containers: ``/tmp/foo`` a file in the first, a directory in the second."""
    ok(run_rpod(env, "run", "-d", "--name", "ctr-file", "alpine", "sh", "-c", "echo file > /tmp/foo; sleep 1000"))
    ok(run_rpod(env, "run", "-d", "--name", "ctr-dir", "alpine", "sh", "-c",
                "mkdir /tmp/foo; echo dir > /tmp/foo/file.txt; sleep 1000"))
    try:
        for name, test in (("ctr-file", "-f"), ("ctr-dir", "-d")):  # the shell has made it
            ok(run_rpod(env, "exec", name, "sh", "-c", f"for i in $(seq 100); do [ {test} /tmp/foo ] && exit; "
                                                       "sleep 0.1; done; exit 1"))
        yield "ctr-file", "ctr-dir"
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", "ctr-file", "ctr-dir")


def _exists_error(side: str, path: str, cause: str) -> str:
    return (f'Error: 1 error occurred:\n\t* copying to {side}: copier: put: error creating "{path}": '
            f"{cause}: file exists\n")


def test_bool_flag_forms(env: RpodEnv, tmp_path: Path) -> None:
    """``-a=false`` keeps the archive's owner; ``-a SRC DEST`` is the flag, not a value;
    ``--pause=false`` and ``--extract`` are accepted no-ops."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("a.txt")
        ti.uid, ti.gid = 1042, 1043
        tf.addfile(ti, io.BytesIO(b""))
    (tmp_path / "f").write_text("hi\n")
    name = "cp-flags"
    ok(run_rpod(env, "run", "-d", "--user", "1000:1000", "--name", name, "alpine", "sleep", "1000"))
    try:
        r = subprocess.run([sys.executable, "-m", "rpod", "cp", "-a=false", "-", f"{name}:/tmp/"], env=env,
                           input=buf.getvalue(), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert sh(env, name, "stat -c %u:%g /tmp/a.txt") == "1042:1043\n"
        ok(run_rpod(env, "cp", "-a", str(tmp_path / "f"), f"{name}:/tmp/owned"))
        ok(run_rpod(env, "cp", "--pause=false", "--extract", str(tmp_path / "f"), f"{name}:/tmp/plain"))
        assert sh(env, name, "stat -c %u:%g /tmp/owned /tmp/plain") == "1000:1000\n1000:1000\n"
        r = run_rpod(env, "cp", "-a=maybe", str(tmp_path / "f"), f"{name}:/tmp/x")
        assert r.returncode == 125
        assert 'invalid argument "maybe" for "-a, --archive" flag: strconv.ParseBool' in r.stderr
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)


def test_overwrite_container_to_container(env: RpodEnv, pair: tuple[str, str]) -> None:
    f, d = pair
    r = run_rpod(env, "cp", f"{f}:/tmp/foo", f"{d}:/tmp")
    assert (r.returncode, r.stderr) == (125, _exists_error(
        "container", "/tmp/foo", 'copier: put: error creating file at "/tmp/foo": open /tmp/foo'))
    ok(run_rpod(env, "cp", "--overwrite", f"{f}:/tmp/foo", f"{d}:/tmp"))
    assert sh(env, d, "cat /tmp/foo") == "file\n"
    sh(env, d, "rm -rf /tmp/foo; mkdir /tmp/foo; echo dir > /tmp/foo/file.txt")
    r = run_rpod(env, "cp", f"{d}:/tmp/foo", f"{f}:/tmp")
    assert (r.returncode, r.stderr) == (125, _exists_error("container", "/tmp/foo", "mkdir /tmp/foo"))
    assert sh(env, f, "cat /tmp/foo") == "file\n"  # untouched
    ok(run_rpod(env, "cp", "--overwrite", f"{d}:/tmp/foo", f"{f}:/tmp"))
    assert sh(env, f, "cat /tmp/foo/file.txt") == "dir\n"


def test_overwrite_with_the_host(env: RpodEnv, pair: tuple[str, str], tmp_path: Path) -> None:
    """Out to the host the path is shown under the directory copied into (``/foo``), as Podman."""
    f, d = pair
    (tmp_path / "foo").mkdir()
    r = run_rpod(env, "cp", f"{f}:/tmp/foo", str(tmp_path))
    assert (r.returncode, r.stderr) == (125, _exists_error(
        "host", "/foo", 'copier: put: error creating file at "/foo": open /foo'))
    ok(run_rpod(env, "cp", "--overwrite", f"{f}:/tmp/foo", str(tmp_path)))
    assert (tmp_path / "foo").read_text() == "file\n"
    r = run_rpod(env, "cp", f"{d}:/tmp/foo", str(tmp_path))
    assert (r.returncode, r.stderr) == (125, _exists_error("host", "/foo", "mkdir /foo"))
    ok(run_rpod(env, "cp", "--overwrite", f"{d}:/tmp/foo", str(tmp_path)))
    assert (tmp_path / "foo" / "file.txt").read_text() == "dir\n"
    # and into the containers from the host
    os.unlink(tmp_path / "foo" / "file.txt")
    (tmp_path / "foo").rmdir()
    (tmp_path / "foo").write_text("host\n")
    r = run_rpod(env, "cp", str(tmp_path / "foo"), f"{d}:/tmp")
    assert (r.returncode, r.stderr) == (125, _exists_error(
        "container", "/tmp/foo", 'copier: put: error creating file at "/tmp/foo": open /tmp/foo'))
    ok(run_rpod(env, "cp", "--overwrite", str(tmp_path / "foo"), f"{d}:/tmp"))
    assert sh(env, d, "cat /tmp/foo") == "host\n"


def test_host_destination_must_be_a_directory_or_a_regular_file(env: RpodEnv, tmp_path: Path) -> None:
    name = "cp-devout"
    ok(run_rpod(env, "run", "-d", "--name", name, "alpine", "sleep", "1000"))
    try:
        r = run_rpod(env, "cp", f"{name}:/etc/hostname", "/dev/stdout")  # stdout is a pipe here
        assert (r.returncode, r.stderr) == (
            125, 'Error: invalid destination: "/dev/stdout" must be a directory or a regular file\n')
        os.mkfifo(tmp_path / "fifo")
        r = run_rpod(env, "cp", f"{name}:/etc/hostname", str(tmp_path / "fifo"))
        assert (r.returncode, r.stderr) == (
            125, f'Error: invalid destination: "{tmp_path / "fifo"}" must be a directory or a regular file\n')
        # a new name in a directory, or an existing regular file, are fine
        ok(run_rpod(env, "cp", f"{name}:/etc/hostname", str(tmp_path / "new")))
        ok(run_rpod(env, "cp", f"{name}:/etc/hostname", str(tmp_path / "new")))
        assert (tmp_path / "new").read_text().strip()
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)


@pytest.mark.parametrize("runtime", ["rpod", "crun"])
def test_tmpfs_copy_up(env: RpodEnv, tmp_path: Path, runtime: str) -> None:
    """A tmpfs starts with the image's content at its mount point (owner and mode kept), so a file
    copied into a created container's tmpfs directory is there once it runs; ``notmpcopyup``
    starts it empty.  rpod's runtime does what crun does."""
    rt = [] if runtime == "rpod" else ["--runtime", "crun"]
    (tmp_path / "file").write_text("tmpfile-content\n")
    name = f"cp-tmpfs-{runtime}"
    ok(run_rpod(env, "create", *rt, "--mount", "type=tmpfs,dst=/tmp", "--name", name, "alpine", "sleep", "1000"))
    try:
        ok(run_rpod(env, "cp", str(tmp_path / "file"), f"{name}:/tmp"))
        ok(run_rpod(env, "start", name))
        assert sh(env, name, "cat /tmp/file; grep ' /tmp ' /proc/mounts | cut -d' ' -f3") == \
            "tmpfile-content\ntmpfs\n"
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)
    script = "cat /etc/alpine-release >/dev/null && stat -c '%a %u:%g %F' /etc/shadow /etc/apk /etc/mtab"
    plain = ok(run_rpod(env, "run", "--rm", *rt, "alpine", "sh", "-c", script)).stdout
    assert ok(run_rpod(env, "run", "--rm", *rt, "--tmpfs", "/etc", "alpine", "sh", "-c", script)).stdout == plain
    r = ok(run_rpod(env, "run", "--rm", *rt, "--tmpfs", "/etc:notmpcopyup", "alpine", "ls", "-A", "/etc"))
    assert "alpine-release" not in r.stdout.split()


def test_nested_volume_of_a_container_that_never_ran(env: RpodEnv, tmp_path: Path) -> None:
    """The file lands in the inner volume, and the outer one stays empty (no mount point made in
    it by the copy: the runtime makes it at start)."""
    (tmp_path / "hostfile").write_text("in volume2\n")
    vols = ("cp-outer", "cp-inner")
    mountpoints = []
    for v in vols:
        ok(run_rpod(env, "volume", "create", v))
        mountpoints.append(Path(ok(run_rpod(env, "volume", "inspect", v, "--format", "{{.Mountpoint}}"))
                                .stdout.strip()))
    name = "cp-nested"
    try:
        ok(run_rpod(env, "create", "--name", name, "-v", f"{vols[0]}:/tmp/volume",
                    "-v", f"{vols[1]}:/tmp/volume/sub-volume", "alpine", "cat", "/tmp/volume/sub-volume/hostfile"))
        r = ok(run_rpod(env, "cp", str(tmp_path / "hostfile"), f"{name}:/tmp/volume/sub-volume"))
        assert r.stdout == ""
        assert (mountpoints[1] / "hostfile").read_text() == "in volume2\n"
        assert os.listdir(mountpoints[0]) == []
        assert ok(run_rpod(env, "start", "-a", name)).stdout == "in volume2\n"
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)
        run_rpod(env, "volume", "rm", "-f", *vols)
