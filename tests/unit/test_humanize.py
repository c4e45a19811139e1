"""Sizes and durations printed exactly as Podman (docker/go-units) prints them."""

from __future__ import annotations

import pytest

from rpod.humanize import human_duration, human_size, parse_time


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1 kB"), (8088316, "8.09 MB"), (4679680, "4.68 MB"),
    (150_000_000, "150 MB"), (1_234_567_890, "1.23 GB"),
])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(("secs", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (42, "42 seconds"), (61, "About a minute"),
    (300, "5 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
    (15 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_parse_time_nanoseconds_and_offsets() -> None:
    assert parse_time("2024-09-06T22:20:07Z") == 1725661207.0
    assert parse_time("2024-09-06T22:20:07.123456789Z") == pytest.approx(1725661207.123456)
    assert parse_time("2024-09-07T00:20:07+02:00") == 1725661207.0
    assert parse_time("") == 0.0 and parse_time("garbage") == 0.0
