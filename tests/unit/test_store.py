"""Image records: lookup by id/name/short name, names moving between images, atomic files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpod.errors import NoSuchImage, StateConflict
from rpod.image.store import ImageRecord, ImageStore, split_name
from rpod.paths import Paths


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(Paths(tmp_path / "root", tmp_path / "run").ensure())


def test_split_name() -> None:
    assert split_name("docker.io/library/alpine:3.20") == ("docker.io/library/alpine", "3.20")
    assert split_name("127.0.0.1:5000/alpine") == ("127.0.0.1:5000/alpine", "")
    assert split_name("r/a@sha256:abc") == ("r/a", "")


def test_resolve_by_id_name_and_short_name(store: ImageStore) -> None:
    store.put(ImageRecord(id="a" * 64, names=["docker.io/library/alpine:3.20"], created="2024-01-01T00:00:00Z"))
    store.put(ImageRecord(id="ab" + "c" * 62, names=["quay.io/x/busybox:latest"]))
    assert store.resolve("docker.io/library/alpine:3.20").id == "a" * 64
    assert store.resolve("alpine:3.20").id == "a" * 64
    assert store.resolve("busybox").id.startswith("ab")
    assert store.resolve("abcc").id.startswith("ab")
    assert store.resolve("sha256:" + "a" * 12).id == "a" * 64
    store.put(ImageRecord(id="abc" + "0" * 61, names=[]))
    with pytest.raises(StateConflict):
        store.resolve("abc")  # two ids start with it
    with pytest.raises(NoSuchImage):
        store.resolve("alpine:latest")


def test_put_moves_a_name_to_the_new_image(store: ImageStore) -> None:
    store.put(ImageRecord(id="1" * 64, names=["r/app:latest"]))
    store.put(ImageRecord(id="2" * 64, names=["r/app:latest"]))
    old = store.get("1" * 64)
    assert old is not None and old.names == [] and "r/app:latest" in old.names_history
    assert store.resolve("r/app").id == "2" * 64


def test_remove_name_and_delete(store: ImageStore) -> None:
    store.put(ImageRecord(id="1" * 64, names=["r/a:1", "r/a:2"]))
    store.remove_name("1" * 64, "r/a:1")
    assert store.get("1" * 64).names == ["r/a:2"]
    with pytest.raises(NoSuchImage, match=r"^r/a:9: tag not known$"):  # podman's libimage wording
        store.remove_name("1" * 64, "r/a:9")
    store.delete("1" * 64)
    assert store.list() == []
    with pytest.raises(NoSuchImage):
        store.delete("1" * 64)
