"""The engine driven in-process, as a Python user (or the API socket) drives it: real images from
the test registry, real containers, no CLI subprocess.  See docs/engine.md."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rpod.engine import containers, containers_logs, containers_run
from rpod.engine import images as image_api
from rpod.engine.containers_inspect import InspectOptions, inspect
from rpod.errors import NoSuchContainer, NoSuchImage
from tests.support.images import ImageSet
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv

pytestmark = pytest.mark.usefixtures("engine_env")


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory, registry: Registry, images: ImageSet) -> Iterator[RpodEnv]:
    """This process's environment pointed at one isolated store (HOME, XDG_*, registries.conf
    searching the test registry), as a Python user's would be; alpine pulled through the engine."""
    env = RpodEnv(tmp_path_factory.mktemp("engine_api"))
    env.write_registries_conf(search=[registry.address], insecure=[registry.address])
    with pytest.MonkeyPatch.context() as mp:
        for key in ("RPOD_ROOT", "RPOD_RUNROOT"):
            mp.delenv(key, raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        assert list(images_pull("alpine"))
        yield env
        containers.remove(containers.RemoveOptions(all=True, force=True, timeout=0))
        env.cleanup()


def images_pull(name: str) -> Iterator[str]:
    return image_api.pull(image_api.PullOptions(names=[name]))


def wait_for(what: str, cond: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``cond`` until it is truthy (a loaded CI machine gets a generous deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def state_of(name: str) -> str:
    rows = containers.ps(containers.ListOptions(all=True, filters={"name": [f"^{name}$"]}))
    return rows[0].State if rows else ""


def test_container_create_start_list_inspect_stop_remove(images: ImageSet) -> None:
    opts = containers_run.run_options("alpine", ["sleep", "1000"])
    opts.name, opts.labels = "api-sleeper", ["app=api"]
    record = containers_run.create(opts)
    assert state_of("api-sleeper") == "created"
    assert [r.error for r in containers.start(["api-sleeper"])] == [None]
    wait_for("running", lambda: state_of("api-sleeper") == "running")

    rows = containers.ps(containers.ListOptions(filters={"label": ["app=api"]}))
    assert [(r.Id, r.Names, r.Image.rsplit("/", 1)[-1]) for r in rows] == [(record.id, "api-sleeper", "alpine:latest")]
    report = inspect(InspectOptions(refs=["api-sleeper"]))
    doc = report.docs[0]
    assert not report.errors and doc["Id"] == record.id and doc["State"]["Running"] is True
    assert doc["Config"]["Labels"] == {"app": "api"} and doc["Image"] == images["alpine"].image_id
    assert doc["State"]["Pid"] > 0

    assert [r.error for r in containers.stop(containers.StopOptions(refs=["api-sleeper"], timeout=0))] == [None]
    assert state_of("api-sleeper") == "exited"
    removed = containers.remove(containers.RemoveOptions(refs=["api-sleeper"]))
    assert [(r.id, r.error) for r in removed] == [(record.id, None)]
    assert not containers.exists("api-sleeper")
    missing = containers.remove(containers.RemoveOptions(refs=["api-sleeper"]))
    assert isinstance(missing[0].error, NoSuchContainer) and missing[0].error.exit_code == 1


def test_run_attached_returns_the_exit_code_and_removes() -> None:
    opts = containers_run.run_options("alpine", ["sh", "-c", "exit 3"])
    opts.name, opts.rm = "api-exit3", True
    record = containers_run.create(opts)
    assert containers_run.run_attached(record, opts, sig_proxy=False, remove=True) == 3
    assert not containers.exists("api-exit3")


def test_logs_and_wait_of_a_detached_container() -> None:
    opts = containers_run.run_options("alpine", ["sh", "-c", "echo out; echo err >&2"])
    opts.name = "api-logger"
    record = containers_run.create(opts)
    containers_run.start_detached(record)
    assert containers.wait(containers.WaitOptions(refs=["api-logger"])) == [0]
    records = list(containers_logs.logs(containers_logs.LogsOptions(refs=["api-logger"])))
    assert sorted(records) == [("stderr", b"err\n"), ("stdout", b"out\n")]
    containers.remove(containers.RemoveOptions(refs=["api-logger"]))


def test_images_pull_list_inspect_tag_remove(images: ImageSet) -> None:
    busybox = images["busybox"].image_id
    assert list(images_pull("busybox")) == [busybox]
    rows = image_api.list_images(image_api.ListOptions(filters={"reference": ["busybox"]}))
    assert [(rec.id, row.Tag) for row, rec in rows] == [(busybox, "latest")]
    report = image_api.inspect(["busybox", "no-such-image"])
    assert [d["Id"] for d in report.docs] == [busybox] and isinstance(report.errors[0], NoSuchImage)

    image_api.tag("busybox", ["api-tagged"])
    assert image_api.exists("localhost/api-tagged:latest")
    untag = image_api.remove(image_api.RemoveOptions(names=["api-tagged"]))
    assert untag[0].lines() == ["Untagged: localhost/api-tagged:latest"]

    done = image_api.remove(image_api.RemoveOptions(names=["busybox"]))
    assert done[0].error is None and done[0].id == busybox and f"Deleted: {busybox}" in done[0].lines()
    assert not image_api.exists("busybox") and image_api.exists("alpine")


def test_rmi_force_removes_the_image_containers_through_the_engine(images: ImageSet) -> None:
    list(images_pull("busybox"))
    record = containers_run.create(containers_run.run_options("busybox", ["true"]))
    in_use = image_api.remove(image_api.RemoveOptions(names=["busybox"]))
    assert in_use[0].error is not None and in_use[0].error.exit_code == 2 and containers.exists(record.id)
    forced = image_api.remove(image_api.RemoveOptions(names=["busybox"], force=True))
    assert forced[0].error is None and not containers.exists(record.id) and not image_api.exists("busybox")
