"""``--userns=keep-id|nomap`` and ``--uidmap``/``--gidmap``: real containers, compared with what
Podman 4.3.1 shows for the same flags (maps are in the user namespace's terms: 0 = the user)."""

from __future__ import annotations

import os
from pathlib import Path

from rootless.subid import default_mapping
from tests.support.rpodcli import RpodEnv, ok, run_rpod

# a map without the user: slirp4netns (joining the container's user namespace) cannot reach the
# user's private run directory either; these tests are about the maps, not the network
NET = ("--network", "none")


def _host(n: int) -> int:
    """The host uid of id ``n`` in the user's default namespace."""
    for m in default_mapping().uid_map:
        if m.container_id <= n < m.container_id + m.size:
            return m.host_id + n - m.container_id
    raise AssertionError(f"id {n} not in the default map")


def _map_lines(text: str) -> list[list[int]]:
    return [[int(x) for x in line.split()] for line in text.strip().splitlines()]


def _layer_copies(env: RpodEnv) -> list[Path]:
    layers = Path(env["XDG_DATA_HOME"]) / "rpod" / "layers"
    return sorted(p for p in layers.glob("*/mapped/*"))


def test_keep_id_user_map_owners_and_bind_mount(env: RpodEnv, tmp_path: Path) -> None:
    uid, gid = os.getuid(), os.getgid()
    total = default_mapping().size
    shared = tmp_path / "shared"
    shared.mkdir()
    r = ok(run_rpod(env, "run", "--rm", "--userns=keep-id", "-v", f"{shared}:/v", "alpine", "sh", "-c",
                    "id -u; id -g; cat /proc/self/uid_map; echo --; ls -ln /etc/passwd /etc/shadow /bin/busybox;"
                    " ls -lnd /; touch /v/made-inside; touch /tmp/in-upper; ls -ln /tmp/in-upper"))
    ids, rest = r.stdout.split("\n", 2)[:2], r.stdout.split("\n", 2)[2]
    assert ids == [str(uid), str(gid)]
    maps, listing = rest.split("--\n")
    # container 0..uid-1 -> the first subordinate ids, uid -> the user, the rest after them (as Podman)
    assert _map_lines(maps) == [[0, _host(1), uid], [uid, uid, 1], [uid + 1, _host(uid + 1), total - uid - 1]]
    lines = listing.splitlines()
    # image files keep their image owners (root's stay root's, shadow's group stays 42)
    assert lines[0].split()[2:4] == ["0", "0"] and lines[0].endswith("/bin/busybox")
    assert lines[1].split()[2:4] == ["0", "0"] and lines[1].endswith("/etc/passwd")
    assert lines[2].split()[2:4] == ["0", "42"] and lines[2].endswith("/etc/shadow")
    assert lines[3].split()[2:4] == ["0", "0"]  # the root directory (the container's upper dir)
    assert lines[4].split()[2:4] == [str(uid), str(gid)]
    st = (shared / "made-inside").stat()
    assert (st.st_uid, st.st_gid) == (uid, gid)  # a bind mount: the host user owns what it writes


def test_keep_id_uid_gid_options_and_layers_shared_not_copied_per_container(env: RpodEnv) -> None:
    r = ok(run_rpod(env, "run", "--rm", "--userns=keep-id:uid=1000,gid=1000", "alpine", "sh", "-c",
                    "id -u; id -g; cat /proc/self/uid_map; stat -c %u:%g /etc/passwd"))
    lines = r.stdout.splitlines()
    assert lines[:2] == ["1000", "1000"]
    assert _map_lines("\n".join(lines[2:5]))[1] == [1000, os.getuid(), 1]
    assert lines[5] == "0:0"
    copies = _layer_copies(env)
    assert len(copies) == 1  # alpine has one layer: one shifted copy for this map
    inodes = copies[0].stat().st_ino
    for _ in range(2):
        ok(run_rpod(env, "run", "--rm", "--userns=keep-id:uid=1000,gid=1000", "alpine", "true"))
    assert _layer_copies(env) == copies and copies[0].stat().st_ino == inodes
    ok(run_rpod(env, "run", "-d", "--name", "k1", "--userns=keep-id:uid=1000,gid=1000", "alpine", "sleep", "30"))
    cdir = Path(env["XDG_DATA_HOME"]) / "rpod" / "containers"
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "k1")).stdout.strip()
    # the container's own directory holds only its writable layer (mount points), not the image
    upper = cdir / cid / "upper"
    assert not (upper / "bin").exists() and not (upper / "lib").exists()
    assert sum(p.lstat().st_size for p in upper.rglob("*") if p.is_file()) < 4096
    ok(run_rpod(env, "rm", "-f", "k1"))


def _searchable(env: RpodEnv) -> None:
    """What the error hint says: let others traverse the directories above the store (pytest and
    rpod make them 0700)."""
    data = Path(env["XDG_DATA_HOME"])
    for p in [*data.parents, data, data / "rpod"]:
        if p.stat().st_uid == os.getuid():
            p.chmod(p.stat().st_mode | 0o001)


def test_map_without_the_user_reaches_a_store_in_a_private_home(env: RpodEnv) -> None:
    """``nomap``: the container's root is a stranger to the user, whose data directory stays
    private (0700, as a home usually is); the runtime enters the store while it is still the
    user, so the container runs (its default network too, and exec), and only the store's own
    root became searchable (``o+x``, never readable)."""
    data = Path(env["XDG_DATA_HOME"])
    data.chmod(0o700)
    r = ok(run_rpod(env, "run", "--rm", "--userns=nomap", "alpine", "sh", "-c",
                    "id -u; echo written > /x; cat /x; grep -c localhost /etc/hosts"))
    assert r.stdout.splitlines()[:2] == ["0", "written"], r.stdout
    cid = ok(run_rpod(env, "run", "-d", "--userns=nomap", "alpine", "sleep", "100")).stdout.strip()
    assert ok(run_rpod(env, "exec", cid, "cat", "/proc/self/uid_map")).stdout.split()[1] == str(_host(1))
    ok(run_rpod(env, "rm", "-f", "-t", "0", cid))
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "rpod").stat().st_mode & 0o007 == 0o001


def test_uidmap_gidmap_subset(env: RpodEnv) -> None:
    _searchable(env)
    r = ok(run_rpod(env, "run", "--rm", *NET, "--uidmap", "0:1:1000", "--gidmap", "0:1:1000", "alpine", "sh", "-c",
                    "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; stat -c %u:%g /etc/passwd /etc/shadow;"
                    " touch /x && stat -c %u /x"))
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    assert _map_lines(lines[1]) == [[0, _host(1), 1000]]
    assert _map_lines(lines[2])[0][:2] == [0, _host(1)]
    assert lines[3:6] == ["0:0", "0:42", "0"]


def test_uidmap_alone_is_used_for_gids_too(env: RpodEnv) -> None:
    _searchable(env)
    r = ok(run_rpod(env, "run", "--rm", *NET, "--uidmap", "0:1:2000", "alpine", "sh", "-c", "cat /proc/self/gid_map"))
    assert _map_lines(r.stdout) == [[0, _host(1), 2000]]


def test_nomap_does_not_map_the_user(env: RpodEnv) -> None:
    _searchable(env)
    total = default_mapping().size
    r = ok(run_rpod(env, "run", "--rm", *NET, "--userns=nomap", "alpine", "sh", "-c",
                    "id -u; cat /proc/self/uid_map; stat -c %u /etc/passwd"))
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    assert _map_lines(lines[1]) == [[0, _host(1), total - 1]]
    assert lines[2] == "0"


def test_bad_maps_are_125(env: RpodEnv) -> None:
    for args in (["--uidmap", "0:70000:10"], ["--uidmap", "0:1:10", "--uidmap", "5:100:10"],
                 ["--userns=keep-id", "--uidmap", "0:1:10"]):
        r = run_rpod(env, "run", "--rm", *args, "alpine", "true")
        assert r.returncode == 125, (args, r.stderr)
        assert r.stderr.startswith("Error: "), r.stderr


def test_keep_id_adds_the_caller_to_passwd_and_group_as_podman(env: RpodEnv) -> None:
    import grp
    import pwd

    uid, gid = os.getuid(), os.getgid()
    user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    r = ok(run_rpod(env, "run", "--rm", "--userns=keep-id", "alpine", "sh", "-c",
                    f"id; grep '^{user}:' /etc/passwd; grep '^{group}:' /etc/group; echo HOME=$HOME;"
                    " stat -c %u:%g /etc/passwd /etc/group; grep -c '^root:' /etc/passwd"))
    lines = r.stdout.splitlines()
    # Podman 4.3.1: uid=1001(rpodci) gid=1001(rpodci) groups=1001(rpodci), rpodci:*:1001:1001::/:/bin/sh
    assert lines[0] == f"uid={uid}({user}) gid={gid}({group}) groups={gid}({group})"
    assert lines[1] == f"{user}:*:{uid}:{gid}::/:/bin/sh"
    assert lines[2] == f"{group}:x:{gid}:{user}"
    assert lines[3] == "HOME=/"
    assert lines[4:6] == ["0:0", "0:0"]  # still root's, like the image's files they replace
    assert lines[6] == "1"  # the image's entries are all still there
    # keep-id:uid=N: Podman 4.3.1 names the user N, "container user"
    r = ok(run_rpod(env, "run", "--rm", "--userns=keep-id:uid=1000,gid=1000", "alpine", "sh", "-c",
                    "id; grep 1000 /etc/passwd /etc/group"))
    assert r.stdout.splitlines() == ["uid=1000(1000) gid=1000(1000) groups=1000(1000)",
                                     "/etc/passwd:1000:*:1000:1000:container user:/:/bin/sh",
                                     "/etc/group:1000:x:1000:1000"]


def test_keep_id_home_is_the_workdir_unless_the_home_is_mounted(env: RpodEnv, tmp_path: Path) -> None:
    """Podman 4.3.1 (030-run "add username to /etc/passwd if --userns=keep-id"): the added
    entry's home, and $HOME, are the container's working directory, or the caller's own home
    when a mount brings it (or a parent of it) into the container."""
    import pwd

    pw = pwd.getpwuid(os.getuid())
    show = "echo $(pwd) $HOME ~; grep '^" + pw.pw_name + ":' /etc/passwd | cut -d: -f6"
    r = ok(run_rpod(env, "run", "--rm", *NET, "--userns=keep-id", "-w", "/srv", "alpine", "sh", "-c", show))
    assert r.stdout.splitlines() == ["/srv /srv /srv", "/srv"]
    r = ok(run_rpod(env, "run", "--rm", *NET, "--userns=keep-id", "-w", "/srv", "-v", f"{tmp_path}:/x{pw.pw_dir}",
                    "alpine", "sh", "-c", show))
    assert r.stdout.splitlines() == ["/srv /srv /srv", "/srv"]  # a mount elsewhere changes nothing
    r = ok(run_rpod(env, "run", "--rm", *NET, "--userns=keep-id", "-w", "/srv", "-v", f"{pw.pw_dir}:{pw.pw_dir}:ro",
                    "alpine", "sh", "-c", show))
    assert r.stdout.splitlines() == [f"/srv {pw.pw_dir} {pw.pw_dir}", pw.pw_dir]


def test_userns_auto_from_containers_conf_and_with_a_secret(env: RpodEnv, tmp_path: Path) -> None:
    """170-run-userns: ``[containers] userns = "auto"`` is the default for new containers (a
    private namespace without the user: ``UsernsMode`` is ``private``, as Podman reports it); a
    secret reaches a container whose root is not the user."""
    conf = tmp_path / "auto.conf"
    conf.write_text('[containers]\nuserns = "auto"\n')
    cenv = {**env, "CONTAINERS_CONF": str(conf)}
    cid = ok(run_rpod(cenv, "create", *NET, "alpine", "cat", "/proc/self/uid_map")).stdout.strip()
    assert ok(run_rpod(env, "inspect", "--format", "{{.HostConfig.UsernsMode}}", cid)).stdout == "private\n"
    ok(run_rpod(env, "start", cid))
    ok(run_rpod(env, "wait", cid))
    first = _map_lines(ok(run_rpod(env, "logs", cid)).stdout)[0]
    assert first[0] == 0 and first[1] != os.getuid() and first[1] == _host(1), first
    plain = ok(run_rpod(env, "create", *NET, "alpine", "true")).stdout.strip()
    assert ok(run_rpod(env, "inspect", "--format", "{{.HostConfig.UsernsMode}}", plain)).stdout == "\n"
    secret = tmp_path / "s"
    secret.write_text("s3cr3t\n")
    ok(run_rpod(env, "secret", "create", "autosec", str(secret)))
    r = ok(run_rpod(env, "run", "--rm", *NET, "--secret=autosec", "--userns=auto:size=1000", "alpine",
                    "cat", "/run/secrets/autosec"))
    assert r.stdout == "s3cr3t\n"
