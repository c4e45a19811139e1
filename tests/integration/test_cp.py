"""``rpod cp`` (both directions, running and stopped containers, ``-``), ``diff``, ``export`` and
``container exists`` on real containers."""

from __future__ import annotations

import io
import json
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


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host tree: f, d/a, d/sub/b, d/lnk -> /etc/passwd."""
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "f").write_text("hi\n")
    (tmp_path / "d" / "a").write_text("x\n")
    (tmp_path / "d" / "sub" / "b").write_text("y\n")
    (tmp_path / "d" / "lnk").symlink_to("/etc/passwd")
    (tmp_path / "out").mkdir()
    return tmp_path


def run_bin(env: RpodEnv, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "rpod", *args], env=env, input=data, capture_output=True,
                          timeout=60, cwd=env["HOME"])


def tar_of(data: bytes) -> tarfile.TarFile:
    """The tar archive in ``data`` (in memory: nothing to close)."""
    return tarfile.TarFile(fileobj=io.BytesIO(data))


def sh(env: RpodEnv, ctr: str, script: str) -> str:
    return ok(run_rpod(env, "exec", ctr, "sh", "-c", script)).stdout


@pytest.fixture
def running(env: RpodEnv, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "run-" + request.node.name.replace("[", "-").replace("]", "")[:40]
    ok(run_rpod(env, "run", "-d", "--name", name, "alpine", "sleep", "1000"))
    yield name
    run_rpod(env, "rm", "-f", "-t", "0", name)


def test_copy_in_file_and_dir_rules(env: RpodEnv, running: str, host: Path) -> None:
    c = running
    ok(run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp/newf"))            # to a new name
    ok(run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp"))                 # into a directory
    ok(run_rpod(env, "cp", str(host / "d"), f"{c}:/tmp/dnew"))            # dir to a new name
    ok(run_rpod(env, "cp", str(host / "d"), f"{c}:/tmp/dnew"))            # dir into an existing dir
    sh(env, c, "mkdir /tmp/e /tmp/e2")
    ok(run_rpod(env, "cp", f"{host / 'd'}/.", f"{c}:/tmp/e"))              # contents only
    ok(run_rpod(env, "cp", f"{host / 'd'}/", f"{c}:/tmp/e2"))              # trailing / is the dir itself
    listing = sh(env, c, "cd /tmp && find newf f dnew e e2 | sort")
    assert listing.split() == sorted([
        "newf", "f", "dnew", "dnew/a", "dnew/lnk", "dnew/sub", "dnew/sub/b",
        "dnew/d", "dnew/d/a", "dnew/d/lnk", "dnew/d/sub", "dnew/d/sub/b",
        "e", "e/a", "e/lnk", "e/sub", "e/sub/b", "e2", "e2/d", "e2/d/a", "e2/d/lnk", "e2/d/sub", "e2/d/sub/b"])
    assert sh(env, c, "cat /tmp/newf /tmp/dnew/sub/b; readlink /tmp/dnew/lnk") == "hi\ny\n/etc/passwd\n"
    # copied-in files belong to the container's root, whoever owns them on the host
    assert sh(env, c, "stat -c '%u:%g' /tmp/newf /tmp/dnew/sub/b /tmp/dnew/lnk").split() == ["0:0"] * 3


def test_copy_in_errors_like_podman(env: RpodEnv, running: str, host: Path) -> None:
    c = running
    r = run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp/nodir/")
    assert r.returncode == 125
    assert r.stderr == f'Error: "/tmp/nodir/" could not be found on container {c}: no such file or directory\n'
    r = run_rpod(env, "cp", str(host / "d"), f"{c}:/etc/hostname")
    assert (r.returncode, r.stderr) == (125, "Error: destination must be a directory when copying a directory\n")
    r = run_rpod(env, "cp", str(host / "nonexist"), f"{c}:/tmp")
    assert r.returncode == 125
    assert r.stderr == f'Error: "{host / "nonexist"}" could not be found on the host: no such file or directory\n'
    r = run_rpod(env, "cp", f"{host / 'f'}/", f"{c}:/tmp")
    assert r.returncode == 125 and "not a directory" in r.stderr
    r = run_rpod(env, "cp", str(host / "f"), "no-such-ctr:/tmp")
    assert r.returncode == 125 and "no-such-ctr" in r.stderr
    r = run_rpod(env, "cp", str(host / "f"), str(host / "g"))
    assert r.returncode == 125
    # a directory is not replaced by a file without --overwrite
    sh(env, c, "mkdir -p /tmp/clash/f")
    r = run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp/clash")
    assert r.returncode == 125 and 'error creating "/tmp/clash/f"' in r.stderr and "file exists" in r.stderr
    ok(run_rpod(env, "cp", "--overwrite", str(host / "f"), f"{c}:/tmp/clash"))
    assert sh(env, c, "cat /tmp/clash/f") == "hi\n"


def test_symlinks_resolve_inside_the_container(env: RpodEnv, running: str, host: Path) -> None:
    c = running
    sh(env, c, "ln -s ../../../../../etc /tmp/up && ln -s / /tmp/root && ln -s /etc/apk /tmp/apklink")
    ok(run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp/up/"))
    assert sh(env, c, "cat /etc/f") == "hi\n"
    ok(run_rpod(env, "cp", str(host / "f"), f"{c}:/tmp/root/rootf"))
    assert sh(env, c, "cat /rootf") == "hi\n"
    # out: the hostname of the container, not of the host
    ok(run_rpod(env, "cp", f"{c}:/tmp/up/hostname", str(host / "out" / "hn")))
    assert (host / "out" / "hn").read_text() == sh(env, c, "cat /etc/hostname")
    # a symlinked source is followed and named after its target, as Podman does
    r = run_bin(env, "cp", f"{c}:/tmp/apklink", "-")
    names = tar_of(r.stdout).getnames()
    assert "apk/world" in names
    # a symlink in the copied tree arrives as a symlink (never followed on the host)
    sh(env, c, "mkdir /tmp/t && ln -s /etc/shadow /tmp/t/evil && echo z > /tmp/t/z")
    ok(run_rpod(env, "cp", f"{c}:/tmp/t", str(host / "out" / "t")))
    assert os.readlink(host / "out" / "t" / "evil") == "/etc/shadow"
    assert (host / "out" / "t" / "z").read_text() == "z\n"


def test_copy_out_rules(env: RpodEnv, running: str, host: Path) -> None:
    c, out = running, host / "out"
    ok(run_rpod(env, "cp", f"{c}:/etc/hostname", f"{out}/"))
    ok(run_rpod(env, "cp", f"{c}:/etc/hostname", str(out / "hn2")))
    assert (out / "hostname").read_text() == (out / "hn2").read_text() != ""
    r = run_rpod(env, "cp", f"{c}:/etc/os-release", f"{out}/nodir/")
    assert r.returncode == 125
    assert r.stderr == f'Error: "{out}/nodir/" could not be found on the host: no such file or directory\n'
    ok(run_rpod(env, "cp", f"{c}:/etc/apk", str(out / "apk")))    # new name
    ok(run_rpod(env, "cp", f"{c}:/etc/apk", str(out / "apk")))    # into the existing dir
    ok(run_rpod(env, "cp", f"{c}:/etc/apk/.", str(out / "apk2")))
    assert (out / "apk" / "world").is_file() and (out / "apk" / "apk" / "world").is_file()
    assert (out / "apk2" / "world").is_file() and not (out / "apk2" / "apk").exists()
    r = run_rpod(env, "cp", f"{c}:/nonexist", str(out))
    assert r.returncode == 125
    assert r.stderr == f'Error: "/nonexist" could not be found on container {c}: no such file or directory\n'
    # ownership on the host is the user's
    assert (out / "apk" / "world").stat().st_uid == os.getuid()


def test_tar_streams(env: RpodEnv, running: str, host: Path) -> None:
    c = running
    r = run_bin(env, "cp", f"{c}:/etc/apk", "-")
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        names = tf.getnames()
        assert tf.getmember("apk/world").uid == 0
    assert names[0] == "apk" and "apk/world" in names and "apk/keys" in names
    r = run_bin(env, "cp", f"{c}:/etc/apk/.", "-")
    assert "world" in tar_of(r.stdout).getnames()
    r = run_bin(env, "cp", f"{c}:/etc/hostname", "-")
    assert tar_of(r.stdout).getnames() == ["hostname"]
    # stdin: a (compressed) tar, extracted into an existing directory
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(host / "f", arcname="f")
        tf.add(host / "d", arcname="d")
    r = run_bin(env, "cp", "-", f"{c}:/tmp/in", data=buf.getvalue())
    assert (r.returncode, r.stderr) == (125, b"Error: destination must be a directory when copying from stdin\n")
    sh(env, c, "mkdir /tmp/in")
    r = run_bin(env, "cp", "-", f"{c}:/tmp/in", data=buf.getvalue())
    assert r.returncode == 0, r.stderr
    assert sh(env, c, "cd /tmp/in && find . | sort").split() == [".", "./d", "./d/a", "./d/lnk", "./d/sub",
                                                                  "./d/sub/b", "./f"]
    r = run_bin(env, "cp", "-", f"{c}:/tmp/in", data=b"x\n")
    assert (r.returncode, r.stderr) == (125, b"Error: source must be a (compressed) tar archive when copying "
                                             b"from stdin\n")
    # a hostile archive cannot climb out, even from inside the container's root
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../../../../escape")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"no"))
    r = run_bin(env, "cp", "-", f"{c}:/tmp/in", data=buf.getvalue())
    assert r.returncode == 125 and b".." in r.stderr
    assert sh(env, c, "ls /escape /tmp/escape 2>&1 || true").count("No such file") == 2


def test_stopped_container_both_ways_and_owner(env: RpodEnv, host: Path) -> None:
    name = "stopped-owner"
    ok(run_rpod(env, "create", "--name", name, "--user", "1000:1000", "-v", "cpvol:/data", "alpine",
                "sh", "-c", "cat /tmp/f /data/v; stat -c '%u:%g %n' /tmp/f /tmp/d/sub/b /tmp; ls /etc/apk"))
    try:
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/"))
        ok(run_rpod(env, "cp", str(host / "d"), f"{name}:/tmp/d"))
        (host / "v").write_text("vol\n")
        ok(run_rpod(env, "cp", str(host / "v"), f"{name}:/data/v"))       # into the volume, not the upper dir
        ok(run_rpod(env, "cp", f"{name}:/etc/apk/world", str(host / "out" / "world")))
        assert (host / "out" / "world").read_text().strip()
        r = ok(run_rpod(env, "start", "-a", name))
        assert r.stdout.splitlines()[:5] == ["hi", "vol", "1000:1000 /tmp/f", "1000:1000 /tmp/d/sub/b", "0:0 /tmp"]
        # after the run (stopped again): copy out what it left, volume included
        ok(run_rpod(env, "cp", f"{name}:/data/v", str(host / "out" / "v2")))
        assert (host / "out" / "v2").read_text() == "vol\n"
        # a compressed archive on stdin into the stopped container (decompressed after the chroot)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as tf:
            tf.add(host / "f", arcname="from-xz")
        r = run_bin(env, "cp", "-", f"{name}:/tmp", data=buf.getvalue())
        assert r.returncode == 0, r.stderr
        r = run_bin(env, "cp", f"{name}:/tmp/from-xz", "-")
        assert tar_of(r.stdout).extractfile("from-xz").read() == b"hi\n"  # type: ignore[union-attr]
        # --archive=false keeps the archive's ids (the host user's here)
        ok(run_rpod(env, "cp", "--archive=false", str(host / "f"), f"{name}:/tmp/keep"))
        r = run_bin(env, "cp", f"{name}:/tmp/keep", "-")
        assert tar_of(r.stdout).getmember("keep").uid == os.getuid()
    finally:
        run_rpod(env, "rm", "-f", "-v", name)
        run_rpod(env, "volume", "rm", "-f", "cpvol")


def test_container_to_container(env: RpodEnv, running: str) -> None:
    other = "c2c-target"
    ok(run_rpod(env, "create", "--name", other, "alpine", "sh", "-c", "cat /tmp/world; ls -R /tmp/apk"))
    try:
        ok(run_rpod(env, "cp", f"{running}:/etc/apk/world", f"{other}:/tmp/world"))
        ok(run_rpod(env, "cp", f"{running}:/etc/apk", f"{other}:/tmp/apk"))  # a tree, more than a buffer
        expected = sh(env, running, "cat /etc/apk/world; cd /etc && ls -R apk | sed 's|^apk|/tmp/apk|'")
        assert ok(run_rpod(env, "start", "-a", other)).stdout == expected
    finally:
        run_rpod(env, "rm", "-f", other)


def test_diff_lines_and_json(env: RpodEnv, running: str) -> None:
    c = running
    sh(env, c, "echo new > /root/added; rm /etc/motd; echo c >> /etc/profile; mkdir -p /var/newdir/x; "
               "touch /var/newdir/x/y; rm -r /etc/apk/keys")
    r = ok(run_rpod(env, "diff", c))
    assert r.stdout.splitlines() == ["C /etc", "C /etc/apk", "D /etc/apk/keys", "D /etc/motd", "C /etc/profile",
                                     "C /root", "A /root/added", "C /var", "A /var/newdir", "A /var/newdir/x",
                                     "A /var/newdir/x/y"]
    doc = json.loads(ok(run_rpod(env, "container", "diff", "--format", "json", c)).stdout)
    assert doc == {"changed": ["/etc", "/etc/apk", "/etc/profile", "/root", "/var"],
                   "added": ["/root/added", "/var/newdir", "/var/newdir/x", "/var/newdir/x/y"],
                   "deleted": ["/etc/apk/keys", "/etc/motd"]}
    ok(run_rpod(env, "create", "--name", "fresh", "alpine", "true"))
    try:
        assert ok(run_rpod(env, "diff", "fresh")).stdout == ""
        assert ok(run_rpod(env, "start", "-a", "fresh")).returncode == 0
        assert ok(run_rpod(env, "diff", "fresh")).stdout == ""   # the runtime's mount points are not changes
    finally:
        run_rpod(env, "rm", "fresh")


def test_export(env: RpodEnv, running: str, tmp_path: Path) -> None:
    c = running
    sh(env, c, "echo new > /root/added; rm /etc/motd")
    r = run_bin(env, "export", c)
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        names = {n.rstrip("/") for n in tf.getnames()}
        assert tf.extractfile("root/added").read() == b"new\n"  # type: ignore[union-attr]
    assert {"bin/busybox", "etc/apk/world", "root/added"} <= names
    assert "etc/motd" not in names and not any(n.startswith(("./", "/")) for n in names)
    ok(run_rpod(env, "container", "export", "-o", str(tmp_path / "e.tar"), c))
    with tarfile.open(tmp_path / "e.tar") as tf:
        assert {n.rstrip("/") for n in tf.getnames()} == names


def test_container_exists_and_cp_alias(env: RpodEnv, running: str, host: Path) -> None:
    assert run_rpod(env, "container", "exists", running).returncode == 0
    assert run_rpod(env, "container", "exists", "no-such-container").returncode == 1
    ok(run_rpod(env, "container", "cp", str(host / "f"), f"{running}:/tmp/alias"))
    assert sh(env, running, "cat /tmp/alias") == "hi\n"


def test_stopped_container_on_fuse_overlayfs_leaves_no_daemon(env: RpodEnv, host: Path) -> None:
    """With the fuse driver the helper's mount is a fuse-overlayfs daemon: it must be unmounted
    (the daemon gone) when the copy ends."""
    fuse_env = RpodEnv.__new__(RpodEnv)
    fuse_env.update(env)
    fuse_env["RPOD_OVERLAY_DRIVER"] = "fuse"
    name = "on-fuse"
    cid = ok(run_rpod(fuse_env, "create", "--name", name, "alpine", "cat", "/tmp/f")).stdout.strip()
    try:
        spec = json.loads((Path(env["XDG_DATA_HOME"]) / "rpod" / "containers" / cid / "config.json").read_text())
        assert json.loads(spec["annotations"]["run.rpod.overlay"])["driver"] == "fuse"
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/f"))
        ok(run_rpod(env, "cp", f"{name}:/etc/apk/world", str(host / "out" / "w")))
        assert (host / "out" / "w").read_text().strip()
        r = run_bin(env, "export", name)
        assert r.returncode == 0 and b"tmp/f" in r.stdout
        daemons = subprocess.run(["pgrep", "-u", str(os.getuid()), "-f", f"fuse-overlayfs.*{env['XDG_DATA_HOME']}"],
                                 capture_output=True, text=True).stdout
        assert daemons == "", f"fuse-overlayfs left running: {daemons}"
        assert ok(run_rpod(env, "start", "-a", name)).stdout == "hi\n"
    finally:
        run_rpod(env, "rm", "-f", name)


def test_keep_id_container_owner_is_the_user(env: RpodEnv, host: Path) -> None:
    """With --userns=keep-id the primary user is the host user's uid: copied files are theirs, in
    the container and on the host (running and stopped)."""
    uid, gid = os.getuid(), os.getgid()
    name = "keepid"
    ok(run_rpod(env, "run", "-d", "--name", name, "--userns=keep-id", "alpine", "sleep", "1000"))
    try:
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/running"))
        assert sh(env, name, "stat -c '%u:%g' /tmp/running") == f"{uid}:{gid}\n"
        ok(run_rpod(env, "stop", "-t", "0", name))
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/stopped"))
        ok(run_rpod(env, "cp", f"{name}:/tmp/running", str(host / "out" / "back")))
        assert (host / "out" / "back").read_text() == "hi\n"
        r = run_bin(env, "cp", f"{name}:/tmp/stopped", "-")
        member = tar_of(r.stdout).getmember("stopped")
        assert (member.uid, member.gid) == (uid, gid)
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)


def test_cp_with_the_crun_runtime(env: RpodEnv, host: Path) -> None:
    """A container run by crun (its namespaces made by crun inside rpod's shim) is entered the same way."""
    name = "on-crun"
    ok(run_rpod(env, "run", "-d", "--runtime", "crun", "--name", name, "alpine", "sleep", "1000"))
    try:
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/f"))
        assert sh(env, name, "cat /tmp/f; stat -c %u:%g /tmp/f") == "hi\n0:0\n"
        ok(run_rpod(env, "cp", f"{name}:/etc/hostname", str(host / "out" / "hn")))
        assert (host / "out" / "hn").read_text() == sh(env, name, "cat /etc/hostname")
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)


def test_read_only_container(env: RpodEnv, host: Path) -> None:
    """--read-only: the live tree is read-only (the error says so), its tmpfs /tmp takes the copy."""
    name = "ro"
    ok(run_rpod(env, "run", "-d", "--read-only", "--name", name, "alpine", "sleep", "1000"))
    try:
        r = run_rpod(env, "cp", str(host / "f"), f"{name}:/root/")  # Podman's line alone in a pipe
        assert r.returncode == 125 and "Read-only file system" in r.stderr and "Hint:" not in r.stderr
        r = run_rpod({**env, "RPOD_HINTS": "1"}, "cp", str(host / "f"), f"{name}:/root/")  # the hint, asked for
        assert r.returncode == 125 and "--read-only" in r.stderr
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:/tmp/"))
        assert sh(env, name, "cat /tmp/f") == "hi\n"
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)


def test_diff_reads_directories_of_other_container_users(env: RpodEnv, running: str) -> None:
    """A 0700 directory of container uid 1000 is unreadable to the user on the host: diff reads it
    as root of the container's user namespace."""
    sh(env, running, "mkdir -p /home/u && touch /home/u/secret && chown -R 1000:1000 /home/u && chmod 700 /home/u")
    lines = ok(run_rpod(env, "diff", running)).stdout.splitlines()
    assert {"C /home", "A /home/u", "A /home/u/secret"} <= set(lines)


def test_copy_out_read_only_directories(env: RpodEnv, running: str, host: Path) -> None:
    """Directories without write permission still get their contents on the host, then their mode."""
    sh(env, running, "mkdir -p /ro/sub && echo z > /ro/sub/f && chmod 555 /ro/sub /ro && chmod 444 /ro/sub/f")
    ok(run_rpod(env, "cp", f"{running}:/ro", str(host / "out" / "ro")))
    try:
        assert (host / "out" / "ro" / "sub" / "f").read_text() == "z\n"
        assert oct((host / "out" / "ro" / "sub").stat().st_mode & 0o777) == "0o555"
    finally:
        for p in (host / "out" / "ro", host / "out" / "ro" / "sub"):
            p.chmod(0o755)


def test_relative_container_paths_are_relative_to_the_workdir(env: RpodEnv, host: Path) -> None:
    name = "wd"
    ok(run_rpod(env, "run", "-d", "-w", "/etc", "--name", name, "alpine", "sleep", "1000"))
    try:
        r = run_bin(env, "cp", f"{name}:hostname", "-")
        assert r.returncode == 0 and tar_of(r.stdout).getnames() == ["hostname"]
        r = run_rpod(env, "cp", f"{name}:etc/hostname", str(host / "out"))
        assert r.returncode == 125
        assert r.stderr.startswith(f'Error: "etc/hostname" could not be found on container {name}')
        ok(run_rpod(env, "cp", str(host / "f"), f"{name}:apk/"))
        assert sh(env, name, "cat /etc/apk/f") == "hi\n"
    finally:
        run_rpod(env, "rm", "-f", "-t", "0", name)
