"""Image users: /etc/passwd and /etc/group looked up through layer dirs (whiteouts, opaque dirs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rpod.container.users import find_in_layers, layer_lookup, resolve_user
from rpod.errors import UsageError

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:2:2:daemon:/sbin:/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001:::
"""
GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
wheel:x:10:root,app
app:x:1000:
dev:x:2000:app
"""


def _layer(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    base.mkdir(parents=True, exist_ok=True)
    return base


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, 0)


def _opaque(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "user.overlay.opaque", b"y")


def test_top_layer_wins(tmp_path: Path) -> None:
    low = _layer(tmp_path / "l0", {"etc/passwd": "low"})
    high = _layer(tmp_path / "l1", {"etc/passwd": "high"})
    assert find_in_layers([high, low], "/etc/passwd") == high / "etc/passwd"
    assert find_in_layers([_layer(tmp_path / "l2", {"x": ""}), low], "/etc/passwd") == low / "etc/passwd"
    assert find_in_layers([high, low], "/etc/shadow") is None


def test_whiteout_hides_lower_file(tmp_path: Path) -> None:
    low = _layer(tmp_path / "l0", {"etc/passwd": "low"})
    high = tmp_path / "l1"
    _whiteout(high / "etc" / "passwd")
    assert find_in_layers([high, low], "/etc/passwd") is None


def test_whiteout_of_parent_directory_hides_lower_file(tmp_path: Path) -> None:
    low = _layer(tmp_path / "l0", {"etc/passwd": "low"})
    high = tmp_path / "l1"
    _whiteout(high / "etc")
    assert find_in_layers([high, low], "/etc/passwd") is None


def test_opaque_directory_hides_lower_contents(tmp_path: Path) -> None:
    low = _layer(tmp_path / "l0", {"etc/passwd": "low", "etc/group": "low"})
    high = tmp_path / "l1"
    _opaque(high / "etc")
    (high / "etc" / "group").write_text("high")
    assert find_in_layers([high, low], "/etc/passwd") is None
    assert find_in_layers([high, low], "/etc/group") == high / "etc/group"
    # a layer above the opaque one may add the file back
    top = _layer(tmp_path / "l2", {"etc/passwd": "top"})
    assert find_in_layers([top, high, low], "/etc/passwd") == top / "etc/passwd"


def test_file_replacing_directory_hides_lower(tmp_path: Path) -> None:
    low = _layer(tmp_path / "l0", {"etc/passwd": "low"})
    high = _layer(tmp_path / "l1", {"etc": "a file now"})
    assert find_in_layers([high, low], "/etc/passwd") is None


def test_bad_paths_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        find_in_layers([tmp_path], "/etc/../x")


@pytest.fixture
def image(tmp_path: Path) -> list[Path]:
    return [_layer(tmp_path / "l1", {"etc/group": GROUP}), _layer(tmp_path / "l0", {"etc/passwd": PASSWD})]


def test_resolve_root_default(image: list[Path]) -> None:
    u = resolve_user("", image)
    assert (u.uid, u.gid, u.home) == (0, 0, "/root")
    assert u.additional_gids == [0, 1, 10]  # primary gid first, then member groups in file order


def test_resolve_name_and_groups(image: list[Path]) -> None:
    u = resolve_user("app", image)
    assert (u.uid, u.gid, u.home, u.name) == (1000, 1000, "/home/app", "app")
    assert u.additional_gids == [1000, 10, 2000]


def test_resolve_numeric_known_and_unknown(image: list[Path]) -> None:
    assert resolve_user("1000", image).gid == 1000
    u = resolve_user("4242", image)
    assert (u.uid, u.gid, u.home, u.additional_gids) == (4242, 0, None, [0])
    assert resolve_user("4242:77", image).gid == 77


def test_resolve_group_names_and_group_add(image: list[Path]) -> None:
    u = resolve_user("app:wheel", image, ["dev", "555", "keep-groups"])
    assert u.gid == 10
    assert u.additional_gids == [10, 2000, 555]


def test_unknown_names_are_errors_like_podman(image: list[Path]) -> None:
    with pytest.raises(UsageError, match="unable to find user ghost: no matching entries in passwd file") as e:
        resolve_user("ghost", image)
    assert e.value.exit_code == 126  # Podman 4.3.1: run --user ghost exits 126
    with pytest.raises(UsageError, match="unable to find group nogroup") as e:
        resolve_user("app:nogroup", image)
    assert e.value.exit_code == 126
    with pytest.raises(UsageError, match="unable to find group x"):
        resolve_user("app", image, ["x"])


def test_image_without_passwd(tmp_path: Path) -> None:
    empty = [_layer(tmp_path / "l0", {"bin/sh": ""})]
    assert resolve_user("123:45", empty).uid == 123
    with pytest.raises(UsageError):
        resolve_user("root", empty)


def test_layer_lookup_reads_once(image: list[Path]) -> None:
    lookup = layer_lookup(image)
    assert lookup("app", []).uid == 1000
    (image[1] / "etc" / "passwd").write_text("")  # cached: later lookups do not re-read
    assert lookup("app", []).uid == 1000
