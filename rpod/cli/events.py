"""``rpod events``: show (and follow) the per-user event log."""

from __future__ import annotations

import time
from typing import Any

import click

from rpod.cli.common import parse_bool_flag, parse_filters, paths, write

app = click.Group()


def _time_ns(value: str | None) -> int | None:
    """``--since``/``--until``: RFC 3339, a Unix time or a duration before now (``10m``)."""
    from rpod.cli.containers import _time_arg  # the same parsing as ``logs --since``

    t = _time_arg(value)
    return None if t is None else int(t * 1_000_000_000)


def _render(ev: dict[str, Any], fmt: str | None) -> str:
    from rpod import events

    public = {k: v for k, v in ev.items() if k != "ns"}
    if not fmt:
        return events.human_line(ev) + "\n"
    if fmt.strip() == "json":
        import json

        return json.dumps(public, separators=(",", ":")) + "\n"
    from rpod.format import render_one

    out = render_one(fmt, public, name="events")
    return out if out.endswith("\n") else out + "\n"


@app.command("events", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--filter", "filters", multiple=True, help="filter output")
@click.option("--format", "fmt", help="format the output using a Go template")
@click.option("--no-trunc", is_flag=True, default=True, help="do not truncate the output (default true)")
@click.option("--since", help="show all events created since timestamp")
@click.option("--until", help="show all events until timestamp")
@click.option("--stream", default="true", help="stream new events; for testing only (default true)")
def events_cmd(filters: tuple[str, ...], fmt: str | None, no_trunc: bool, since: str | None, until: str | None,
               stream: str) -> None:
    """Show rpod events."""
    from rpod import events

    follow = parse_bool_flag(stream, "--stream")
    parsed = parse_filters(list(filters))
    bad = [k for k in parsed if k not in events.FILTER_KEYS]
    if bad:
        from rpod.errors import UsageError

        raise UsageError(f"{bad[0]!r} is an invalid filter: use {', '.join(events.FILTER_KEYS)}")
    since_ns, until_ns = _time_ns(since), _time_ns(until)
    log = paths().events_log
    try:
        f = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115 - followed below
    except FileNotFoundError:
        if not follow or until_ns is not None:
            return
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch(mode=0o600)
        f = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115
    with f:
        pending = ""
        while True:
            chunk = f.read()
            if chunk:
                text = pending + chunk
                lines = text.split("\n")
                pending = lines.pop()
                for ev in events.parse_lines(lines):
                    if since_ns is not None and ev["ns"] < since_ns:
                        continue
                    if until_ns is not None and ev["ns"] > until_ns:
                        return
                    if events.matches(ev, parsed):
                        write(_render(ev, fmt))
                continue
            if not follow or (until_ns is not None and time.time_ns() > until_ns):
                return
            time.sleep(0.2)
