"""The monitor's configuration schema (``rootless.monitor.config``): what the engine fills is
what the monitor accepts, and anything else is an error, not silence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rootless.monitor.config import MONITOR, SPAWN, ConfigError, MonitorConfig, validate

BASE = {"id": "c1", "bundle": "/b", "state_root": "/s", "container_dir": "/b", "run_dir": "/r", "sync_fd": 3}


def test_minimal_configuration_gets_the_schema_defaults() -> None:
    cfg = MonitorConfig.parse(__import__("json").dumps(BASE))
    assert cfg.id == "c1" and cfg.sync_fd == 3
    assert (cfg.stdin, cfg.log_driver, cfg.stop_signal, cfg.detach_fork, cfg.network) == ("null", "k8s-file", 15,
                                                                                          True, None)
    assert cfg.await_config is False  # SPAWN keys exist too, at their defaults


@pytest.mark.parametrize(("change", "problem"), [
    ({"bogus": 1}, "unknown key bogus"),
    ({"bundle": None}, "bundle: expected a string, got None"),
    ({"sync_fd": True}, "sync_fd: expected an integer, got True"),
    ({"stdin": "tty"}, "stdin: expected one of null, inherit, pipe, got 'tty'"),
    ({"exit_command": ["rm", 3]}, "exit_command[1]: expected a string, got 3"),
    ({"healthcheck": {"test": ["CMD", "true"], "interval": 1, "timeout": 2.5, "start_period": 0,
                      "retries": 3}}, "missing key healthcheck.on_failure"),
    ({"network": {"mode": "pasta", "ports": [{"proto": "tcp", "host_ip": "", "host_port": "80",
                                              "container_port": 80}]}},
     "network.ports[0].host_port: expected an integer, got '80'"),
    ({"events": {"path": "/e", "id": "c1", "name": "n", "image": "i", "labels": {}, "extra": 1}},
     "unknown key events.extra"),
])
def test_problems_are_named(change: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        validate({**BASE, **change})
    assert problem in str(e.value)


def test_missing_required_keys_are_all_listed() -> None:
    with pytest.raises(ConfigError) as e:
        validate({"id": "c1"})
    for key in ("bundle", "state_root", "container_dir", "run_dir", "sync_fd"):
        assert f"missing key {key}" in str(e.value)


def test_optional_null_and_the_spawn_line() -> None:
    validate({**BASE, "log_path": None, "runtime": None, "healthcheck": None, "network": None})
    validate({"await_config": True, "id": "c1", "sync_fd": 4, "stdout_fd": 5}, SPAWN)
    cfg = MonitorConfig.from_argv('{"await_config": true, "id": "c1", "sync_fd": 4}')
    assert cfg.await_config and cfg.bundle == ""
    with pytest.raises(ConfigError, match="unknown key bundle"):
        MonitorConfig.from_argv('{"await_config": true, "id": "c1", "sync_fd": 4, "bundle": "/b"}')
    with pytest.raises(ConfigError, match="not JSON"):
        MonitorConfig.parse("{")


def test_service_config_matches_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``service.monitor_config`` fills (every service feature on) passes the schema."""
    from rpod.container import service

    monkeypatch.setenv("NOTIFY_SOCKET", "/run/notify.sock")
    monkeypatch.setattr(service, "journal_socket", lambda: "/run/journal.sock")
    record = SimpleNamespace(id="c1", name="n", image_name="alpine", labels={"a": "b"}, stop_signal=15,
                             stop_timeout=10, healthcheck={"Test": ["CMD", "true"], "Interval": 30e9,
                                                           "Timeout": 30e9, "StartPeriod": 0, "Retries": 3})
    opts = SimpleNamespace(sdnotify="container", pidfile="p", conmon_pidfile="c", restart="always",
                           health_on_failure="")
    paths = SimpleNamespace(events_log=tmp_path / "events.log")
    cfg = service.monitor_config(paths, record, opts, tmp_path, "journald")
    validate({**BASE, **cfg, "log_driver": "journald"})
    assert set(cfg) <= set(MONITOR)


def test_monitor_path_imports_stay_light() -> None:
    """The schema costs the monitor no dataclasses/typing (docs/decisions.md, "Run path")."""
    root = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {root!r}); import rootless.monitor.main, rootless.monitor.config; "
            "print(sorted(m for m in ('dataclasses', 'typing', 'subprocess', 'tempfile') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
