"""Pure parts of the service features: restart rules, health state machine, durations, health
commands, sd_notify rewriting, journal field encoding."""

from __future__ import annotations

import struct

import pytest

from rootless.monitor.health import check_argv, next_state
from rootless.monitor.journal import encode_entry, encode_field
from rootless.monitor.notify import rewrite
from rootless.monitor.restart import next_delay, parse_policy, should_restart
from rpod.container.options import RunOptions
from rpod.container.service import parse_duration, parse_health_cmd, resolve_healthcheck
from rpod.errors import UsageError


def test_restart_rules() -> None:
    assert parse_policy("on-failure:3") == ("on-failure", 3)
    assert parse_policy(None) == ("no", 0)
    assert should_restart("always", 0, 0, 100, False)
    assert should_restart("unless-stopped", 0, 0, 0, False)
    assert not should_restart("always", 0, 1, 0, True)  # rpod stop/kill
    assert should_restart("on-failure", 3, 1, 2, False)
    assert not should_restart("on-failure", 3, 1, 3, False)
    assert not should_restart("on-failure", 0, 0, 0, False)
    assert should_restart("on-failure", 0, 2, 1000, False)  # no limit
    assert not should_restart("no", 0, 1, 0, False)
    assert next_delay(3.2, 0.5) == 3.2 and next_delay(3.2, 10.0) == 0.1


def test_health_state_machine() -> None:
    s = {"Status": "starting", "FailingStreak": 0, "Log": []}
    s = next_state(s, 1, True, 1)
    assert (s["Status"], s["FailingStreak"]) == ("starting", 0)  # start period: not counted
    s = next_state(s, 1, False, 2)
    assert (s["Status"], s["FailingStreak"]) == ("starting", 1)
    s = next_state(s, 1, False, 2)
    assert (s["Status"], s["FailingStreak"]) == ("unhealthy", 2)
    s = next_state(s, 0, False, 2)
    assert (s["Status"], s["FailingStreak"]) == ("healthy", 0)
    assert check_argv(["CMD-SHELL", "test -f /x"]) == ["/bin/sh", "-c", "test -f /x"]
    assert check_argv(["CMD", "true"]) == ["true"]
    assert check_argv(["NONE"]) is None


def test_durations_and_health_cmd() -> None:
    assert parse_duration("30s", "-") == 30
    assert parse_duration("1m30s", "-") == 90
    assert parse_duration("500ms", "-") == 0.5
    assert parse_duration("2", "-") == 2
    with pytest.raises(UsageError):
        parse_duration("soon", "--health-interval")
    assert parse_health_cmd("curl -f localhost") == ["CMD-SHELL", "curl -f localhost"]
    assert parse_health_cmd('["CMD", "true"]') == ["CMD", "true"]
    assert parse_health_cmd('["true"]') == ["CMD", "true"]
    assert parse_health_cmd("none") == ["NONE"]


def test_resolve_healthcheck_merges_image_and_flags() -> None:
    image = {"config": {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 7}}}
    hc = resolve_healthcheck(RunOptions(image="x"), image)
    assert hc == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Timeout": 30_000_000_000,
                  "StartPeriod": 0, "Retries": 7}
    hc = resolve_healthcheck(RunOptions(image="x", health_interval="disable", health_retries=1), image)
    assert hc is not None and (hc["Interval"], hc["Retries"]) == (0, 1)
    assert resolve_healthcheck(RunOptions(image="x", no_healthcheck=True), image) is None
    assert resolve_healthcheck(RunOptions(image="x", health_cmd="none"), image) is None
    assert resolve_healthcheck(RunOptions(image="x"), {}) is None
    with pytest.raises(UsageError):
        resolve_healthcheck(RunOptions(image="x", health_cmd="true", health_retries=0), {})


def test_notify_rewrite_and_journal_encoding() -> None:
    assert rewrite(b"MAINPID=1\nREADY=1\n", 42) == b"MAINPID=42\nREADY=1\n"
    assert rewrite(b"STATUS=ok", 42) == b"STATUS=ok\n"
    assert encode_field("MESSAGE", b"hi") == b"MESSAGE=hi\n"
    assert encode_field("MESSAGE", b"a\nb") == b"MESSAGE\n" + struct.pack("<Q", 3) + b"a\nb\n"
    assert encode_entry({"A": b"1", "B": b"2"}) == b"A=1\nB=2\n"


def test_sdnotify_healthy_needs_a_healthcheck() -> None:
    with pytest.raises(UsageError):
        resolve_healthcheck(RunOptions(image="x", sdnotify="healthy"), {})
    assert resolve_healthcheck(RunOptions(image="x", sdnotify="healthy", health_cmd="true"), {}) is not None


def test_journal_records_back_to_streams() -> None:
    from rpod.container.journal_logs import records

    lines = ['{"MESSAGE": "out", "PRIORITY": "6"}', '{"MESSAGE": "err", "PRIORITY": "3"}',
             '{"MESSAGE": "par", "PRIORITY": "6", "CONTAINER_PARTIAL_MESSAGE": "true"}',
             '{"MESSAGE": "tial", "PRIORITY": "6"}', '{"MESSAGE": [104, 105, 255], "PRIORITY": "6"}', "torn"]
    assert list(records(lines)) == [("stdout", b"out\n"), ("stderr", b"err\n"), ("stdout", b"partial\n"),
                                    ("stdout", b"hi\xff\n")]
