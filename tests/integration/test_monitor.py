"""``rootless.monitor`` on its own: a plain Alpine rootfs bundle, the in-process runtime core, the
sync socket, the attach socket, the exit file, the ``--rm`` exit command and the monitor's memory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from rootless.monitor import exitfile, stdio
from rootless.userns import python_entry
from tests.support.images import ALPINE_X86_64


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert ALPINE_X86_64.exists(), f"test image missing: {ALPINE_X86_64}"
    dest = tmp_path_factory.mktemp("alpine-mon") / "rootfs"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(ALPINE_X86_64), "-C", str(dest)], check=True)
    return dest


class Bundle:
    def __init__(self, tmp: Path, rootfs: Path):
        self.tmp = tmp
        self.rootfs = rootfs
        self.cdir = tmp / "ctr"
        self.cdir.mkdir()
        self.run_dir = tmp / "run"
        self.cid = "m" + os.urandom(6).hex()

    def spec(self, args: list[str], terminal: bool = False) -> None:
        out = subprocess.run(["crun", "spec", "--rootless", "-b", str(self.tmp)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        cfg = json.loads((self.tmp / "config.json").read_text())
        cfg["root"] = {"path": str(self.rootfs), "readonly": False}
        cfg["process"]["args"] = args
        cfg["process"]["terminal"] = terminal
        (self.cdir / "config.json").write_text(json.dumps(cfg))

    def start(self, args: list[str], **cfg: Any) -> tuple[socket.socket, dict[str, Any], subprocess.Popen]:
        self.spec(args, cfg.pop("terminal_spec", False))
        ours, theirs = socket.socketpair()
        conf = {"id": self.cid, "bundle": str(self.cdir), "state_root": str(self.tmp / "state"),
                "container_dir": str(self.cdir), "run_dir": str(self.run_dir), "sync_fd": theirs.fileno(),
                "log_path": str(self.cdir / "ctr.log"), **cfg}
        proc = subprocess.Popen(python_entry("rootless.monitor", json.dumps(conf)), pass_fds=[theirs.fileno()],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()
        proc.wait(timeout=10)
        return ours, read_line(ours), proc


def read_line(sock: socket.socket) -> dict[str, Any]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        assert chunk, "the monitor closed the sync socket without a message"
        buf += chunk
    return json.loads(buf)


def test_pid_exit_code_exit_file_and_log(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    sync, first, proc = b.start(["sh", "-c", "echo one; echo two >&2; exit 3"])
    assert proc.returncode == 0  # the first process only forks
    assert first["pid"] > 0
    assert read_line(sync) == {"exit_code": 3, "signal": None}
    ex = exitfile.read_exit_file(str(b.cdir))
    assert ex is not None and ex["exit_code"] == 3 and ex["signal"] is None and ex["exited_at"][:2] == "20"
    mon = exitfile.read_monitor_file(str(b.cdir))
    assert mon is not None and mon["pid"] == first["pid"] and mon["boot_id"] == exitfile.boot_id()
    lines = (b.cdir / "ctr.log").read_bytes().splitlines()
    parsed = sorted(stdio.parse_log_line(ln)[1:] for ln in lines)  # type: ignore[index]
    assert parsed == [("stderr", True, b"two"), ("stdout", True, b"one")]
    # the runtime state is deleted right after the exit code is reported (the CLI is not kept waiting)
    deadline = time.monotonic() + 30
    while (tmp_path / "state" / b.cid).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not (tmp_path / "state" / b.cid).exists()


def test_command_not_found_is_reported_as_127(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    _sync, first, _ = b.start(["no-such-binary"])
    assert first.get("exit_code") == 127, first
    assert "error" in first


def test_attach_socket_streams_and_feeds_stdin(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    sync, first, _ = b.start(["sh", "-c", "read line; echo got:$line; read x; echo end"], stdin="pipe")
    assert "pid" in first
    client = stdio.connect_attach(str(b.run_dir))
    client.send(stdio.STDIN + b"hello\n")
    pkt = client.recv(stdio.MAX_PACKET)
    assert pkt == stdio.STDOUT + b"got:hello\n"
    client.send(stdio.STDIN_EOF)
    assert client.recv(stdio.MAX_PACKET) == stdio.STDOUT + b"end\n"
    assert client.recv(stdio.MAX_PACKET) == b""  # closed at exit
    assert read_line(sync)["exit_code"] == 0


def test_terminal_through_console_socket(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    sync, first, _ = b.start(["sh", "-c", "tty; stty size; test -t 0 && echo is-tty"], terminal=True,
                             terminal_spec=True)
    assert "pid" in first, first
    assert read_line(sync)["exit_code"] == 0
    text = (b.cdir / "ctr.log").read_text()
    assert "/dev/pts/0" in text and "is-tty" in text


def test_exit_command_runs_when_the_cli_is_gone(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    marker = tmp_path / "cleaned"
    sync, first, _ = b.start(["sleep", "0.3"], remove=True, exit_command=["touch", str(marker)])
    assert "pid" in first
    sync.close()  # the CLI goes away (as with -d, or a killed CLI)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the monitor did not run the exit command"
        time.sleep(0.05)


def test_exit_command_skipped_when_the_cli_removed_it(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    marker = tmp_path / "cleaned"
    sync, first, _ = b.start(["true"], remove=True, exit_command=["touch", str(marker)])
    assert read_line(sync)["exit_code"] == 0
    sync.sendall(b"removed\n")
    assert sync.recv(16) == b""  # the monitor exited (closing its end): whatever it ran is done
    assert not marker.exists()


def test_monitor_memory_is_small(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    sync, first, _ = b.start(["sleep", "5"])
    mon = exitfile.read_monitor_file(str(b.cdir))
    assert mon is not None
    smaps = Path(f"/proc/{mon['monitor_pid']}/smaps_rollup").read_text()
    values = {ln.split(":")[0]: int(ln.split()[1]) for ln in smaps.splitlines()[1:] if ln.split()[-1] == "kB"}
    print(f"monitor RSS {values['Rss']} kB, PSS {values['Pss']} kB")
    assert values["Pss"] < 20_000, values
    os.kill(first["pid"], 9)
    assert read_line(sync) == {"exit_code": 137, "signal": 9}


def test_unknown_or_missing_key_on_the_command_line_is_reported(tmp_path: Path, rootfs: Path) -> None:
    b = Bundle(tmp_path, rootfs)
    sync, first, proc = b.start(["true"], bogus_key=1)
    assert first["exit_code"] == 125
    assert "unknown key bogus_key" in first["error"], first
    assert proc.returncode == 2
    assert "unknown key bogus_key" in (exitfile.read_exit_file(str(b.cdir)) or {}).get("error", "")
    assert not (b.cdir / "ctr.log").exists()  # nothing ran


def test_invalid_configuration_on_the_sync_socket_is_reported(tmp_path: Path) -> None:
    from rpod.container.monitorspawn import spawn_monitor
    from rpod.errors import RpodError

    # the engine side refuses to send a configuration its schema rejects
    spawn = spawn_monitor(None)
    with pytest.raises(RpodError, match="missing key bundle"):
        spawn.configure({"id": spawn.cid, "state_root": "/x", "container_dir": "/x", "run_dir": "/x",
                         "sync_fd": spawn.sync_fd})
    # the monitor checks again what arrives: a wrong type is an error on the sync socket
    spawn = spawn_monitor(None)
    data = json.dumps({"id": spawn.cid, "bundle": "/x", "state_root": "/x", "container_dir": "/x",
                       "run_dir": "/x", "sync_fd": "three"}).encode()
    spawn.sync.sendall(b"%d\n" % len(data) + data)
    spawn.proc.wait(timeout=10)
    msg = read_line(spawn.sync)
    assert msg["exit_code"] == 125 and "sync_fd: expected an integer, got 'three'" in msg["error"], msg
