"""The container record (``container.json``) as a typed structure with a version: a record
written by the code before the version field (options a free dict) still reads, typed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rpod.container.options import RunOptions
from rpod.container.state import RECORD_VERSION, ContainerRecord, ContainerStore
from rpod.paths import Paths

V1 = Path(__file__).parent / "data" / "container-record-v1.json"  # written by rpod of 2 Dec 2026
V1_ID = "1f" * 32


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    s = ContainerStore(Paths(tmp_path / "root", tmp_path / "run"))
    s.dir(V1_ID).mkdir(parents=True)
    shutil.copy(V1, s.dir(V1_ID) / "container.json")
    return s


def test_version_1_record_reads_typed(store: ContainerStore) -> None:
    assert "version" not in json.loads(V1.read_text())
    rec = store.load(V1_ID)
    assert rec is not None and rec.version == RECORD_VERSION
    assert isinstance(rec.options, RunOptions)
    o = rec.options
    assert (o.image, o.name, o.restart, o.detach, o.interactive) == ("alpine", "web", "on-failure:3", True, True)
    assert (o.publish, o.add_host, o.cap_add, o.cpus, o.pids_limit) == (["8080:80/tcp"], ["db:10.0.0.5"],
                                                                        ["NET_ADMIN"], 0.5, 100)
    assert o.network == "slirp4netns:allow_host_loopback=true" and o.conmon_pidfile == "/tmp/mon.pid"
    assert o.runtime is None and o.platform is None
    assert rec.healthcheck is not None and rec.healthcheck["Interval"] == 10_000_000_000
    assert rec.mounts[0]["destination"] == "/data" and rec.labels == {"tier": "front"}


def test_saved_back_in_the_current_shape(store: ContainerStore) -> None:
    rec = store.load(V1_ID)
    assert rec is not None
    store.save(rec)
    data = json.loads((store.dir(V1_ID) / "container.json").read_text())
    assert data["version"] == RECORD_VERSION
    old = json.loads(V1.read_text())
    assert {k: data["options"][k] for k in old["options"]} == old["options"]  # every option kept, same values
    from rpod.container.options import RunOptions
    from rpod.records import asdict

    defaults = asdict(RunOptions())  # options added since (--pod, --ipc...) are saved at their defaults
    assert all(data["options"][k] == defaults[k] for k in set(data["options"]) - set(old["options"]))
    assert {k: v for k, v in data.items() if k not in ("version", "options")} == \
        {k: v for k, v in old.items() if k != "options"}
    again = store.load(V1_ID)
    assert again == rec


def test_unknown_and_missing_option_keys(store: ContainerStore) -> None:
    path = store.dir(V1_ID) / "container.json"
    data = json.loads(path.read_text())
    data["options"]["an_option_of_the_past"] = 1
    del data["options"]["platform"]
    data["a_field_of_the_past"] = True
    path.write_text(json.dumps(data))
    rec = store.load(V1_ID)
    assert rec is not None and rec.options.platform is None
    assert not hasattr(rec.options, "an_option_of_the_past")


def test_new_record_has_typed_default_options() -> None:
    rec = ContainerRecord(id="a" * 64, name="x")
    assert rec.options == RunOptions() and rec.version == RECORD_VERSION
    rec.options.tty = True
    assert rec.to_dict()["options"]["tty"] is True


def test_listing_records_does_not_import_the_options(store: ContainerStore) -> None:
    """``ps`` reads every record but not their options: the 90-field record stays unimported."""
    root = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {root!r})\n"
            "from pathlib import Path\n"
            "from rpod.container.state import ContainerStore\nfrom rpod.paths import Paths\n"
            f"recs = ContainerStore(Paths(Path({str(store.paths.root)!r}), Path('/nonexistent'))).list()\n"
            "assert [r.name for r in recs] == ['web']\n"
            "print('rpod.container.options' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_dependents_read_the_typed_network_option(tmp_path: Path) -> None:
    """``rm`` looks for containers joined to another's network: by attribute, on every record."""
    from rpod.engine.containers import _dependents

    s = ContainerStore(Paths(tmp_path / "root", tmp_path / "run"))
    web = s.create(ContainerRecord(id="a" * 64, name="web", created="1"))
    s.create(ContainerRecord(id="b" * 64, name="other", created="2", options=RunOptions(network="slirp4netns")))
    joined = s.create(ContainerRecord(id="c" * 64, name="side", created="3",
                                      options=RunOptions(network="container:web")))
    assert [r.id for r in _dependents(s, web)] == [joined.id]
