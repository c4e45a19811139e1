"""Container records, the name index and the derived status (files written by hand, real processes)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from rootless.monitor import exitfile
from rpod.container.state import ContainerRecord, ContainerStore, new_id
from rpod.errors import NoSuchContainer, StateConflict, UsageError
from rpod.paths import Paths


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    return ContainerStore(Paths(tmp_path / "root", tmp_path / "run"))


def make(store: ContainerStore, name: str) -> ContainerRecord:
    return store.create(ContainerRecord(id=new_id(), name=name, created=exitfile.iso_now()))


def test_create_get_by_id_prefix_and_name(store: ContainerStore) -> None:
    rec = make(store, "web")
    assert len(rec.id) == 64 and int(rec.id, 16) >= 0
    assert store.get("web").id == rec.id
    assert store.get(rec.id).id == rec.id
    assert store.get(rec.id[:5]).id == rec.id
    with pytest.raises(NoSuchContainer, match='no container with name or ID "nope" found'):
        store.get("nope")


def test_name_in_use_is_a_conflict_and_is_freed_by_remove(store: ContainerStore) -> None:
    rec = make(store, "web")
    with pytest.raises(StateConflict, match='the container name "web" is already in use by ' + rec.id):
        make(store, "web")
    store.remove(rec)
    assert store.list() == []
    make(store, "web")


def test_invalid_name_is_a_usage_error(store: ContainerStore) -> None:
    with pytest.raises(UsageError):
        make(store, "no/slash")


def test_concurrent_creates_with_one_name(store: ContainerStore) -> None:
    results: list[str] = []

    def attempt() -> None:
        try:
            make(store, "race")
            results.append("ok")
        except StateConflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 7 + ["ok"]
    assert len(store.list()) == 1


def _monitor_file(store: ContainerStore, cid: str, pid: int, monitor_pid: int, boot: str | None = None) -> None:
    exitfile.write_json_atomic(str(store.dir(cid) / exitfile.MONITOR_FILE), {
        "monitor_pid": monitor_pid, "monitor_start": exitfile.proc_start_time(monitor_pid),
        "pid": pid, "pid_start": exitfile.proc_start_time(pid), "boot_id": boot or exitfile.boot_id(),
        "started_at": exitfile.iso_now()})


def test_status_is_derived_from_files_and_processes(store: ContainerStore) -> None:
    rec = make(store, "s")
    assert store.state(rec.id).status == "created"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        _monitor_file(store, rec.id, sleeper.pid, os.getpid())
        st = store.state(rec.id)
        assert (st.status, st.pid, st.running) == ("running", sleeper.pid, True)
        sleeper.kill()
        sleeper.wait()
        # the container is gone, the monitor (this process) still runs: transient "stopping"
        assert store.state(rec.id).status == "stopping"
        exitfile.write_exit_file(str(store.dir(rec.id)), 137, 9, exitfile.iso_now())
        st = store.state(rec.id)
        assert (st.status, st.exit_code, st.running) == ("exited", 137, False)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_dead_monitor_without_exit_file_is_exited_minus_one(store: ContainerStore) -> None:
    rec = make(store, "dead")
    gone = subprocess.Popen(["true"])
    gone.wait()
    exitfile.write_json_atomic(str(store.dir(rec.id) / exitfile.MONITOR_FILE), {
        "monitor_pid": gone.pid, "monitor_start": 1, "pid": gone.pid, "pid_start": 1,
        "boot_id": exitfile.boot_id(), "started_at": exitfile.iso_now()})
    st = store.state(rec.id)
    assert (st.status, st.exit_code) == ("exited", -1)
    assert "monitor died" in st.error


def test_other_boot_invalidates_running(store: ContainerStore) -> None:
    rec = make(store, "reboot")
    _monitor_file(store, rec.id, os.getpid(), os.getpid(), boot="00000000-0000-0000-0000-000000000000")
    st = store.state(rec.id)
    assert (st.status, st.exit_code) == ("exited", -1)
    assert "rebooted" in st.error


def test_reset_runtime_forgets_the_previous_run(store: ContainerStore) -> None:
    rec = make(store, "again")
    exitfile.write_exit_file(str(store.dir(rec.id)), 3, None, exitfile.iso_now())
    assert store.state(rec.id).exit_code == 3
    store.reset_runtime(rec.id)
    assert store.state(rec.id).status == "created"


def test_pid_reuse_is_detected_by_start_time() -> None:
    assert exitfile.process_alive(os.getpid(), exitfile.proc_start_time(os.getpid()))
    assert not exitfile.process_alive(os.getpid(), (exitfile.proc_start_time(os.getpid()) or 0) + 1)


def test_wait_status_decoding() -> None:
    p = subprocess.Popen(["sh", "-c", "kill -TERM $$"])
    _, status = os.waitpid(p.pid, 0)
    assert exitfile.decode_wait_status(status) == (143, 15)
    p = subprocess.Popen(["sh", "-c", "exit 3"])
    _, status = os.waitpid(p.pid, 0)
    assert exitfile.decode_wait_status(status) == (3, None)
