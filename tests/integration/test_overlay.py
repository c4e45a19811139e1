"""rootless.overlay: layers unpacked by the real helper, mounted inside a user namespace with the
kernel and the fuse driver, and the merged view checked from inside."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rootless import overlay, userns
from rootless.errors import RootlessError
from rootless.subid import IdMap, default_mapping
from tests.integration.test_unpack_userns import file_entry, make_tar, node_entry, run_unpack

# Runs as root in a fresh user+mount namespace: mount, look, write, look again, unmount.
IN_NS = r"""
import json, os, stat, sys
sys.path.insert(0, sys.argv[1])
from rootless import overlay
args = json.loads(sys.argv[2])

def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            out[rel] = "d" if stat.S_ISDIR(st.st_mode) else open(p).read() if stat.S_ISREG(st.st_mode) else "?"
    return out

result = {}
try:
    overlay.mount_overlay(args["lowers"], args["upper"], args["work"], args["merged"], args["driver"])
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
    sys.exit(0)
try:
    result["before"] = tree(args["merged"])
    try:
        with open(os.path.join(args["merged"], "written"), "w") as f:
            f.write("new")
        if os.path.lexists(os.path.join(args["merged"], "b")):
            os.unlink(os.path.join(args["merged"], "b"))
        result["write"] = "ok"
    except OSError as e:
        result["write"] = e.strerror
    result["after"] = tree(args["merged"])
    result["mounts"] = [l for l in open("/proc/self/mounts") if args["merged"] in l]
finally:
    overlay.unmount(args["merged"])
result["unmounted"] = os.listdir(args["merged"]) == []
print(json.dumps(result))
"""


def mount_and_look(lowers: list[Path], upper: Path | None, work: Path | None, merged: Path,
                   driver: str) -> dict[str, Any]:
    args = {"lowers": [str(p) for p in lowers], "upper": str(upper) if upper else None,
            "work": str(work) if work else None, "merged": str(merged), "driver": driver}
    proc = userns.run([sys.executable, "-I", "-S", "-c", IN_NS, userns.PACKAGE_PARENT, json.dumps(args)],
                      default_mapping(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "error" not in result, result["error"]
    return result


@pytest.fixture
def image(tmp_path: Path) -> Iterator[tuple[list[Path], Path]]:
    """Two layers unpacked by the helper: the top one deletes ``a`` and makes ``o`` opaque."""
    base = tmp_path / "layers:with,odd\\chars"  # exercises the option escaping too
    base.mkdir()
    bottom, top = base / "l0", base / "l1"
    bottom.mkdir()
    top.mkdir()
    res = run_unpack(make_tar([
        file_entry("a", b"a0"), file_entry("b", b"b0"), file_entry("c", b"c0"),
        node_entry("o", tarfile.DIRTYPE), file_entry("o/old", b"old"), file_entry("o/older", b"older"),
        node_entry("keep", tarfile.DIRTYPE), file_entry("keep/k", b"k0"),
    ]), bottom)
    assert res.rc == 0, res.err
    res = run_unpack(make_tar([
        file_entry(".wh.a"), file_entry("c", b"c1"),
        node_entry("o", tarfile.DIRTYPE), file_entry("o/.wh..wh..opq"), file_entry("o/new", b"new"),
        file_entry("keep/k2", b"k2"),
    ]), top)
    assert res.rc == 0, res.err
    yield [bottom, top], tmp_path
    userns.remove_tree(tmp_path, default_mapping())


EXPECTED = {"b": "b0", "c": "c1", "o": "d", "o/new": "new", "keep": "d", "keep/k": "k0", "keep/k2": "k2"}


def _dirs(tmp: Path, driver: str) -> tuple[Path, Path, Path]:
    dirs = tuple(tmp / f"{driver}-{n}" for n in ("upper", "work", "merged"))
    for d in dirs:
        d.mkdir()
    return dirs  # type: ignore[return-value]


@pytest.mark.parametrize("driver", ["kernel", "fuse"])
def test_whiteout_and_opaque_semantics(image: tuple[list[Path], Path], driver: str) -> None:
    lowers, tmp = image
    if driver == "fuse":
        lowers = _plain(lowers, tmp)
    upper, work, merged = _dirs(tmp, driver)
    result = mount_and_look(lowers, upper, work, merged, driver)
    assert result["before"] == EXPECTED
    assert result["write"] == "ok"
    after = dict(EXPECTED, written="new")
    del after["b"]
    assert result["after"] == after
    assert result["unmounted"]
    assert len(result["mounts"]) == 1 and (("userxattr" in result["mounts"][0]) == (driver == "kernel"))
    # the deletion of a lower file is recorded in upper as a whiteout the next mount honours
    assert (upper / "written").read_text() == "new"
    b = (upper / "b").lstat() if (upper / "b").exists() or (upper / "b").is_symlink() else None
    if b is not None:
        assert stat.S_ISCHR(b.st_mode) and b.st_rdev == 0
    else:
        assert (upper / ".wh.b").exists()
    assert (lowers[0] / "b").read_text() == "b0", "lower layers are never modified"


def _plain(lowers: list[Path], tmp: Path) -> list[Path]:
    """The same layers through a path without ':' and ',' (fuse-overlayfs cannot take them)."""
    plain = tmp / "plain"
    if not plain.is_symlink():
        plain.symlink_to(lowers[0].parent)
    return [plain / p.name for p in lowers]


@pytest.mark.parametrize("driver", ["kernel", "fuse"])
def test_read_only_overlay(image: tuple[list[Path], Path], driver: str) -> None:
    lowers, tmp = image
    if driver == "fuse":
        lowers = _plain(lowers, tmp)
    merged = tmp / "ro"
    merged.mkdir()
    result = mount_and_look(lowers, None, None, merged, driver)
    assert result["before"] == EXPECTED
    assert result["write"] == "Read-only file system"
    assert result["after"] == EXPECTED


def test_single_layer_read_only_is_a_bind_mount(image: tuple[list[Path], Path]) -> None:
    lowers, tmp = image
    merged = tmp / "one"
    merged.mkdir()
    result = mount_and_look(lowers[:1], None, None, merged, "kernel")
    assert result["before"]["o/old"] == "old" and result["write"] == "Read-only file system"


FUSE_MAPPED = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from rootless import overlay
from rootless.subid import IdMap
l0, l1, merged = sys.argv[2:5]
os.chown(os.path.join(l0, "f1"), 1, 1)
shift = [IdMap(0, 1, 1000)]
overlay.mount_overlay([l0, l1], None, None, merged, "fuse", uid_map=shift, gid_map=shift)
try:
    print(json.dumps({n: [os.stat(os.path.join(merged, n)).st_uid, os.stat(os.path.join(merged, n)).st_gid]
                      for n in sorted(os.listdir(merged))}))
finally:
    overlay.unmount(merged)
"""


def test_fuse_id_mapping(tmp_path: Path) -> None:
    """uidmapping=0:1:1000 presents on-disk id k as k+1 (how keep-id can work without copying)."""
    l0, l1, merged = (tmp_path / n for n in ("l0", "l1", "merged"))
    for d in (l0, l1, merged):
        d.mkdir()
    (l0 / "f0").write_text("")
    (l0 / "f1").write_text("")
    proc = userns.run([sys.executable, "-I", "-S", "-c", FUSE_MAPPED, userns.PACKAGE_PARENT, str(l0), str(l1),
                       str(merged)], default_mapping(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"f0": [1, 1], "f1": [2, 2]}
    userns.remove_tree(tmp_path, default_mapping())


def test_many_layers_beyond_one_page_of_options(tmp_path: Path) -> None:
    """60 layers with long paths: more than mount(2)'s page, so the fsconfig lowerdir+ path is used."""
    long = tmp_path / ("x" * 60)
    lowers = []
    for i in range(60):
        d = long / f"layer-{i:03d}-{'y' * 20}"
        d.mkdir(parents=True)
        (d / f"f{i}").write_text(str(i))
        (d / "shared").write_text(str(i))
        lowers.append(d)
    assert len(overlay.kernel_options([str(p) for p in lowers], None, None)) > overlay.MOUNT_DATA_MAX
    upper, work, merged = _dirs(tmp_path, "many")
    result = mount_and_look(lowers, upper, work, merged, "kernel")
    assert result["before"]["shared"] == "59", "the last layer given is the topmost"
    assert all(result["before"][f"f{i}"] == str(i) for i in range(60))
    assert result["write"] == "ok" and result["after"]["written"] == "new"
    assert (upper / "written").read_text() == "new"


def test_probe_driver(tmp_path: Path) -> None:
    assert overlay.probe_driver(str(tmp_path), default_mapping()) == "kernel"
    assert list(tmp_path.iterdir()) == [], "the probe cleans up after itself"


def test_idmapped_mount_experiment(tmp_path: Path) -> None:
    """Reports whether an overlay mounted in the namespace can be idmapped (it cannot on 6.18: EINVAL)."""
    supported, details = overlay.idmapped_mount_supported(str(tmp_path), default_mapping())
    assert set(details) == {"overlay", "layer_dir", "tmpfs"}
    assert details["tmpfs"] == "ok", "control: a tmpfs the namespace owns is idmappable since Linux 6.3"
    assert supported == (details["overlay"] == "ok")
    assert all(v == "ok" or "mount_setattr" in v or "open_tree" in v for v in details.values()), details
    print(f"idmapped overlay: {details}")
    assert list(tmp_path.iterdir()) == []


def test_inaccessible_fuse_device_message() -> None:
    with pytest.raises(RootlessError) as e:
        overlay.check_fuse_device("/etc/shadow")  # root-owned, not writable by the test user
    assert str(e.value) == "cannot open /dev/fuse read-write: permission denied"
    assert e.value.hint == "as root: chmod 0666 /dev/fuse (the mode udev gives it on a normal system)"
    overlay.check_fuse_device()  # this machine's /dev/fuse is 0666


def test_option_strings() -> None:
    assert overlay.kernel_options(["/l/0", "/l/1"], "/u", "/w") == "lowerdir=/l/1:/l/0,upperdir=/u,workdir=/w,userxattr"
    assert overlay.kernel_options(["/a:b", "/c,d"], None, None) == "lowerdir=/c\\,d:/a\\:b,userxattr"
    maps = [IdMap(0, 1001, 1), IdMap(1, 100000, 65536)]
    assert overlay.fuse_options(["/l0", "/l1"], "/u", "/w", maps, maps) == (
        "lowerdir=/l1:/l0,upperdir=/u,workdir=/w,uidmapping=0:1001:1:1:100000:65536,"
        "gidmapping=0:1001:1:1:100000:65536"
    )
    with pytest.raises(RootlessError, match="contains ':' or ','"):
        overlay.fuse_options(["/a:b"], None, None)


def test_mount_overlay_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(RootlessError, match="together"):
        overlay.mount_overlay([str(tmp_path)], str(tmp_path), None, str(tmp_path))
    many = [tmp_path / f"l{i}" for i in range(501)]  # distinct layers: repeated ones count once
    for d in many:
        d.mkdir()
    with pytest.raises(RootlessError, match="more than the 500"):
        overlay.mount_overlay([str(d) for d in many], None, None, str(tmp_path))
    with pytest.raises(RootlessError, match="unknown overlay driver"):
        overlay.mount_overlay([str(tmp_path)] * 2, None, None, str(tmp_path), driver="zfs")
