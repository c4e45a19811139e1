"""Volumes: -v/--mount/--tmpfs parsing, the volume store, copy-up, and the ``rpod volume`` CLI.

The CLI tests run the real command line in a subprocess with an isolated store (RPOD_ROOT).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rpod.errors import NoSuchVolume, StateConflict, UsageError
from rpod.network.etcfiles import hosts_content, resolv_conf_content
from rpod.paths import Paths
from rpod.volume.volumes import (
    MountRequest,
    VolumeStore,
    copy_up,
    parse_all,
    parse_mount,
    parse_tmpfs,
    parse_volume,
    resolve_mounts,
)

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------- -v parsing
@pytest.mark.parametrize(("spec", "expected"), [
    ("/host:/ctr", MountRequest("bind", "/ctr", "/host", ["rbind", "rw", "rprivate"])),
    ("/host:/ctr:ro,z", MountRequest("bind", "/ctr", "/host", ["rbind", "ro", "rprivate"])),
    ("/host:/ctr:rw,Z,nosuid,noexec,shared", MountRequest("bind", "/ctr", "/host",
                                                          ["rbind", "rw", "nosuid", "noexec", "shared"])),
    ("/host:/ctr:bind,rslave,nodev", MountRequest("bind", "/ctr", "/host", ["bind", "rw", "nodev", "rslave"])),
    ("data:/var/lib/data", MountRequest("volume", "/var/lib/data", "data", ["rw", "rprivate"])),
    ("data:/d:ro,nocopy", MountRequest("volume", "/d", "data", ["ro", "rprivate"], copy_up=False)),
    ("/anon", MountRequest("volume", "/anon", "", ["rw", "rprivate"])),
    ("/anon:ro", MountRequest("volume", "/anon", "", ["ro", "rprivate"])),
    ("/host:/ctr/:U", MountRequest("bind", "/ctr", "/host", ["rbind", "rw", "rprivate"], chown=True)),
])
def test_parse_volume(spec: str, expected: MountRequest) -> None:
    assert parse_volume(spec) == expected


def test_relative_paths_resolve_against_cwd() -> None:
    assert parse_volume("./sub:/x", cwd="/work/dir").source == "/work/dir/sub"
    assert parse_volume("../up:/x", cwd="/work/dir").source == "/work/up"


@pytest.mark.parametrize(("spec", "message"), [
    ("", "invalid volume specification"),
    ("a:b:c:d", "invalid volume specification"),
    ("/h:relative", "invalid option"),
    ("/h:/c:bogus", "invalid option 'bogus'"),
    ("/h:/c:ro,rw", "conflicting options"),
    ("/h:/c:O", "overlay volumes"),
    ("/h:/c:idmap", "idmapped mounts"),
    ("bad/name:/c", "invalid volume name"),
    ("-x:/c", "invalid volume name"),
    ("h:rel", "invalid container path 'h'"),
])
def test_parse_volume_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as e:
        parse_volume(spec)
    assert e.value.exit_code == 125


def test_parse_mount() -> None:
    assert parse_mount("type=bind,src=/h,dst=/c,ro") == MountRequest("bind", "/c", "/h", ["rbind", "ro", "rprivate"])
    assert parse_mount("type=bind,source=/h,target=/c,readonly=false,bind-propagation=rshared") == \
        MountRequest("bind", "/c", "/h", ["rbind", "rw", "rshared"])
    assert parse_mount("type=volume,src=v,dst=/c,volume-nocopy,U=true") == \
        MountRequest("volume", "/c", "v", ["rw", "rprivate"], chown=True, copy_up=False)
    assert parse_mount("type=volume,destination=/c") == MountRequest("volume", "/c", "", ["rw", "rprivate"])
    t = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1777")
    assert t.type == "tmpfs" and "size=64m" in t.options and "mode=1777" in t.options and "noexec" in t.options


@pytest.mark.parametrize("spec", ["src=/h,dst=/c", "type=nfs,dst=/c", "type=bind,src=/h", "type=bind,dst=/c",
                                  "type=bind,src=/h,dst=rel", "type=tmpfs,src=x,dst=/t", "type=bind,src=/h,dst=/c,foo=1"])
def test_parse_mount_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_mount(spec)


def test_parse_tmpfs() -> None:
    assert parse_tmpfs("/run") == MountRequest("tmpfs", "/run", "tmpfs", ["rw", "noexec", "nosuid", "nodev", "tmpcopyup"])
    assert parse_tmpfs("/t:exec,size=10m,mode=700").options == ["rw", "nosuid", "nodev", "exec", "size=10m", "mode=700",
                                                                 "tmpcopyup"]
    assert parse_tmpfs("/t:ro").options == ["noexec", "nosuid", "nodev", "ro", "tmpcopyup"]


def test_tmpfs_copy_up_is_the_default() -> None:
    """Podman copies the image's content into a tmpfs unless ``notmpcopyup`` (not passed on)."""
    assert parse_tmpfs("/t:notmpcopyup").options == ["rw", "noexec", "nosuid", "nodev"]
    assert parse_tmpfs("/t:tmpcopyup").options.count("tmpcopyup") == 1
    assert "tmpcopyup" in parse_mount("type=tmpfs,dst=/t").options
    assert "tmpcopyup" not in parse_mount("type=tmpfs,dst=/t,notmpcopyup").options


def test_duplicate_destination() -> None:
    with pytest.raises(UsageError, match="duplicate mount destination"):
        parse_all(volumes=["/a:/x"], tmpfs=["/x"])


# ---------------------------------------------------------------------------------- store
@pytest.fixture
def store(tmp_path: Path) -> VolumeStore:
    return VolumeStore(Paths(tmp_path / "root", tmp_path / "run"))


def test_create_get_list_inspect(store: VolumeStore) -> None:
    v = store.create("data", labels={"a": "b"}, options={"o": "uid=1"})
    assert Path(v.mountpoint) == store.root / "data" / "_data" and Path(v.mountpoint).is_dir()
    doc = store.get("data").inspect(2)
    assert set(doc) >= {"Name", "Driver", "Mountpoint", "CreatedAt", "Labels", "Scope", "Options", "MountCount",
                        "NeedsCopyUp", "NeedsChown"}
    assert (doc["Name"], doc["Driver"], doc["Scope"], doc["Labels"], doc["MountCount"]) == \
        ("data", "local", "local", {"a": "b"}, 2)
    anon = store.create()
    assert len(anon.name) == 64 and anon.anonymous
    assert [x.name for x in store.list()] == sorted(["data", anon.name])
    with pytest.raises(StateConflict, match="already exists"):
        store.create("data")
    assert store.create("data", ignore_existing=True).name == "data"


def test_create_validation(store: VolumeStore) -> None:
    for kwargs in ({"driver": "nfs"}, {"options": {"bogus": "1"}}, {"options": {"device": "/dev/sda"}}):
        with pytest.raises(UsageError):
            store.create("x", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="invalid volume name"):
        store.create("../escape")
    with pytest.raises(NoSuchVolume):
        store.get("../escape")


def test_remove_in_use_needs_force(tmp_path: Path) -> None:
    users = {"busy": ["c0ffee"]}
    store = VolumeStore(Paths(tmp_path / "root", tmp_path / "run"), in_use=lambda n: users.get(n, []))
    store.create("busy")
    store.create("idle")
    with pytest.raises(StateConflict, match="being used by the following container\\(s\\): c0ffee"):
        store.remove("busy")
    assert store.prune() == ["idle"]
    store.remove("busy", force=True)
    assert store.list() == []
    with pytest.raises(NoSuchVolume):
        store.remove("busy")


def test_resolve_mounts_creates_volumes(store: VolumeStore, tmp_path: Path) -> None:
    reqs = parse_all(volumes=[f"{tmp_path}:/h", "named:/n:ro", "/anon"], tmpfs=["/t"])
    mounts, used = resolve_mounts(reqs, store)
    assert mounts[0] == {"destination": "/h", "type": "bind", "source": str(tmp_path),
                         "options": ["rbind", "rw", "rprivate"]}
    assert mounts[1] == {"destination": "/n", "type": "bind", "source": store.get("named").mountpoint,
                         "options": ["rbind", "ro", "rprivate"]}
    assert mounts[3]["type"] == "tmpfs"
    assert [v.name for v in used][0] == "named" and used[1].anonymous
    again, _ = resolve_mounts(parse_all(volumes=["named:/n"]), store)  # reuses the existing volume
    assert again[0]["source"] == store.get("named").mountpoint
    with pytest.raises(UsageError, match="no such file or directory"):
        resolve_mounts(parse_all(volumes=["/does/not/exist:/x"]), store)


def test_copy_up_copies_image_content_with_ownership(store: VolumeStore, tmp_path: Path) -> None:
    """Through a real user namespace and overlay: the lower layer's file is copied, the upper
    layer's whiteout is honoured, and ownership (container uid 0 = the user) is kept."""
    low, high = tmp_path / "l0", tmp_path / "l1"
    (low / "srv" / "app").mkdir(parents=True)
    (low / "srv" / "app" / "keep.txt").write_text("keep")
    (low / "srv" / "app" / "gone.txt").write_text("gone")
    (high / "srv" / "app").mkdir(parents=True)
    os.mknod(high / "srv" / "app" / "gone.txt", 0o020600, 0)
    (high / "srv" / "app" / "new.txt").write_text("new")
    vol = store.create("cu")
    assert copy_up(vol, [low, high], "/srv/app", tmp_path / "scratch") is True
    data = Path(vol.mountpoint)
    assert sorted(p.name for p in data.iterdir()) == ["keep.txt", "new.txt"]
    assert (data / "keep.txt").stat().st_uid == os.getuid()
    # not empty any more: nothing is copied again, and the copy-up counts as done (Podman)
    before = sorted(p.name for p in data.iterdir())
    (low / "srv" / "app" / "later.txt").write_text("later")
    assert copy_up(vol, [low, high], "/srv/app", tmp_path / "scratch") is True
    assert sorted(p.name for p in data.iterdir()) == before
    # nothing (or an empty directory) at the path in the image: not done, a later image may bring content
    assert copy_up(store.create("none"), [low, high], "/nothing/here", tmp_path / "scratch") is False
    (low / "empty").mkdir()
    assert copy_up(store.create("empty"), [low, high], "/empty", tmp_path / "scratch") is False


# -------------------------------------------------------------------------------- etc files
def test_hosts_content() -> None:
    text = hosts_content("abc123", "web", ["db:10.0.0.5", "v6=fd00::1"], network="slirp4netns")
    # Podman's order: --add-host entries, then localhost, host.containers.internal, the container
    assert text == ("10.0.0.5\tdb\nfd00::1\tv6\n"
                    "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain\n"
                    "10.0.2.2\thost.containers.internal host.docker.internal\n"
                    "10.0.2.100\tabc123 web\n")
    assert hosts_content("h", None, network="none").endswith("127.0.0.1\th\n")
    assert hosts_content("c1", "c1", network="none").endswith("127.0.0.1\tc1 c1\n")  # both, as Podman
    assert "h" not in hosts_content("h", None, network="host").split()
    # a base file (containers.conf base_hosts_file) follows the --add-host entries; names it or
    # --add-host lists are not repeated: the container's own entry is dropped when both are taken
    base = [("10.1.1.1", ["one"]), ("10.2.2.2", ["two", "web"]), ("127.0.0.1", ["localhost"])]
    text = hosts_content("one", "web", ["x:10.9.9.9"], network="slirp4netns", base=base, internal_ip="10.3.3.3")
    assert text == ("10.9.9.9\tx\n10.1.1.1\tone\n10.2.2.2\ttwo web\n127.0.0.1\tlocalhost\n"
                    "127.0.0.1\tlocalhost.localdomain\n::1\tlocalhost.localdomain\n"
                    "10.3.3.3\thost.containers.internal host.docker.internal\n")
    assert "host.containers.internal" not in hosts_content("h", None, network="slirp4netns", internal_ip="none")
    assert "10.3.3.3\thost.containers.internal" in hosts_content("h", None, network="none", internal_ip="10.3.3.3")
    with pytest.raises(UsageError):
        hosts_content("h", None, ["nohost"])
    with pytest.raises(UsageError):
        hosts_content("h", None, ["x:not-an-ip"])


HOST_RESOLV = "# generated\nnameserver 127.0.0.53\nnameserver 192.168.1.1\nsearch lan corp\noptions edns0 trust-ad\n"


def test_resolv_conf_content() -> None:
    assert resolv_conf_content(HOST_RESOLV, "slirp4netns") == \
        "search lan corp\nnameserver 10.0.2.3\nnameserver 192.168.1.1\noptions edns0 trust-ad\n"
    assert resolv_conf_content(HOST_RESOLV, "none") == \
        "search lan corp\nnameserver 192.168.1.1\noptions edns0 trust-ad\n"
    assert "127.0.0.53" in resolv_conf_content(HOST_RESOLV, "host")
    assert resolv_conf_content(HOST_RESOLV, "slirp4netns", dns=["1.1.1.1"], dns_search=["."],
                               dns_option=["ndots:2"]) == "nameserver 1.1.1.1\noptions ndots:2\n"
    assert resolv_conf_content("nameserver 127.0.0.1\n", "none") == ""
    with pytest.raises(UsageError):
        resolv_conf_content("", "none", dns=["dns.example"])


# ------------------------------------------------------------------------------------- CLI
def rpod(env_root: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """``rpod volume ...`` through the real CLI entry point (registering ``volume`` if app.py does not yet)."""
    code = ("import sys; from rpod.cli import app as a; "
            "a.COMMANDS.setdefault('volume', ('rpod.cli.volume', 'Manage volumes')); sys.exit(a.main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPOD_", "XDG_"))}
    env.update({"RPOD_ROOT": str(env_root / "root"), "RPOD_RUNROOT": str(env_root / "run"),
                "XDG_DATA_HOME": str(env_root / "data"), "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          input=input, timeout=30)


def test_cli_create_exists_inspect_rm(tmp_path: Path) -> None:
    p = rpod(tmp_path, "volume", "create", "--label", "team=a", "--opt", "o=uid=0", "v1")
    assert (p.returncode, p.stdout) == (0, "v1\n"), p.stderr
    assert rpod(tmp_path, "volume", "exists", "v1").returncode == 0
    assert rpod(tmp_path, "volume", "exists", "nope").returncode == 1
    p = rpod(tmp_path, "volume", "inspect", "v1")
    doc = json.loads(p.stdout)
    assert doc[0]["Name"] == "v1" and doc[0]["Labels"] == {"team": "a"} and doc[0]["Options"] == {"o": "uid=0"}
    assert doc[0]["Mountpoint"] == str(tmp_path / "root" / "volumes" / "v1" / "_data")
    p = rpod(tmp_path, "volume", "create", "v1")
    assert p.returncode == 125 and "already exists" in p.stderr
    p = rpod(tmp_path, "volume", "inspect", "v1", "ghost")
    assert p.returncode == 125 and 'no volume with name "ghost" found: no such volume' in p.stderr and json.loads(p.stdout)[0]["Name"] == "v1"
    p = rpod(tmp_path, "volume", "rm", "v1", "ghost")
    assert p.returncode == 1 and p.stdout == "v1\n" and 'no volume with name "ghost" found: no such volume' in p.stderr
    assert rpod(tmp_path, "volume", "exists", "v1").returncode == 1


def test_cli_ls_quiet_filter_prune(tmp_path: Path) -> None:
    for args in (["--label", "k=1", "a"], ["b"], []):
        assert rpod(tmp_path, "volume", "create", *args).returncode == 0
    names = rpod(tmp_path, "volume", "ls", "-q").stdout.split()
    assert len(names) == 3 and {"a", "b"} <= set(names)
    assert rpod(tmp_path, "volume", "ls", "-q", "--filter", "label=k=1").stdout == "a\n"
    assert rpod(tmp_path, "volume", "ls", "-q", "--filter", "name=^b$").stdout == "b\n"
    p = rpod(tmp_path, "volume", "ls", "--filter", "bogus=1")
    assert p.returncode == 125 and "invalid volume filter" in p.stderr
    p = rpod(tmp_path, "volume", "prune", "-f")
    assert p.returncode == 0 and sorted(p.stdout.split()) == sorted(names)
    assert rpod(tmp_path, "volume", "ls", "-q").stdout == ""


def test_cli_ls_and_inspect_format(tmp_path: Path) -> None:
    rpod(tmp_path, "volume", "create", "fmt1")
    p = rpod(tmp_path, "volume", "ls")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["DRIVER", "VOLUME", "NAME"] and lines[1].split() == ["local", "fmt1"]
    assert rpod(tmp_path, "volume", "ls", "--noheading").stdout.split() == ["local", "fmt1"]
    assert rpod(tmp_path, "volume", "ls", "--format", "{{.Name}} {{.Driver}}").stdout == "fmt1 local\n"
    assert rpod(tmp_path, "volume", "ls", "--format", "table {{.Name}}").stdout.split() == ["VOLUME", "NAME", "fmt1"]
    assert json.loads(rpod(tmp_path, "volume", "ls", "--format", "json").stdout)[0]["Name"] == "fmt1"
    assert rpod(tmp_path, "volume", "inspect", "--format", "{{.Name}}:{{.Scope}}", "fmt1").stdout == "fmt1:local\n"
