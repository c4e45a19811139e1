"""rpod.image.validate: the image-spec's types, checked before anything is used (issue 14, defect 10)."""

from __future__ import annotations

import pytest

from rpod.errors import UnsupportedMediaType
from rpod.image.validate import check_config, check_descriptor, check_manifest

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("config", [
    {"config": {"Cmd": ["sh"], "Entrypoint": None, "Env": ["A=1"], "ExposedPorts": {"80/tcp": {}},
                "Labels": {"a": "b"}, "WorkingDir": "/", "Healthcheck": {"Test": ["CMD", "true"], "Retries": 3}},
     "rootfs": {"type": "layers", "diff_ids": [D]}, "history": [{"created_by": "x"}]},
    {"config": None, "rootfs": {"diff_ids": []}},
    {},
])
def test_valid_configs(config: dict[str, object]) -> None:
    check_config(config, "config")


@pytest.mark.parametrize(("config", "where"), [
    ({"config": {"Cmd": {"sh": 1}}}, "config.Cmd"),
    ({"config": {"Entrypoint": "echo pwned"}}, "config.Entrypoint"),
    ({"config": {"Env": "A=1"}}, "config.Env"),
    ({"config": {"Labels": {"a": 1}}}, "config.Labels"),
    ({"config": {"ArgsEscaped": "yes"}}, "config.ArgsEscaped"),
    ({"config": {"Healthcheck": {"Interval": "1s"}}}, "config.Healthcheck.Interval"),
    ({"config": {"Volumes": {"/data": 1}}}, "config.Volumes"),
    ({"architecture": 64}, "architecture"),
    ({"rootfs": {"diff_ids": ["sha256:../../etc"]}}, "rootfs.diff_ids"),
    ({"history": ["x"]}, "history"),
])
def test_wrong_types_are_refused(config: dict[str, object], where: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=where.replace(".", r"\.")):
        check_config(config, "config")


@pytest.mark.parametrize("desc", [
    {"digest": "sha256:../../x", "size": 1}, {"digest": "md5:abc", "size": 1}, {"digest": D, "size": -1},
    {"digest": D, "size": "1"}, {"digest": D.upper(), "size": 1}, "not an object", {"digest": D, "mediaType": 3},
])
def test_bad_descriptors(desc: object) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_descriptor(desc, "layer")


def test_manifest_needs_config_and_layer_descriptors() -> None:
    check_manifest({"config": {"digest": D, "size": 2}, "layers": [{"digest": D}]}, "m")
    with pytest.raises(UnsupportedMediaType, match="layers must be an array"):
        check_manifest({"config": {"digest": D}, "layers": {}}, "m")
