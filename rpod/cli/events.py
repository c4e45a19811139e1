"""``rpod events`` (also ``rpod system events``): show (and follow) the per-user event log."""

from __future__ import annotations

import json
from typing import Any

import click

from rpod.cli.common import parse_bool_flag, parse_filters, write

app = click.Group()


def _render(ev: dict[str, Any], fmt: str | None, truncate: bool = False) -> str:
    from rpod.engine.system import event_line

    public = {k: v for k, v in ev.items() if k != "ns"}
    if not fmt:  # --no-trunc=false shortens the ids of the default lines only (not --format's)
        return event_line({**ev, "ID": ev.get("ID", "")[:12]} if truncate and ev.get("ID") else ev) + "\n"
    if fmt.strip() == "json":
        return json.dumps(public, separators=(",", ":")) + "\n"
    from rpod.format import render_one

    out = render_one(fmt, {"ID": "", "Name": "", "Image": "", **public}, name="events")  # Go fields, "" when unset
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
    from rpod.engine.system import EventsOptions, events

    opts = EventsOptions(filters=parse_filters(filters), since=since, until=until,
                         stream=bool(parse_bool_flag(stream, "--stream")))
    for ev in events(opts):
        write(_render(ev, fmt, truncate=not no_trunc))
