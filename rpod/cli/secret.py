"""``rpod secret ...``: create, ls, inspect, rm, exists (Podman's flags, columns and JSON)."""

from __future__ import annotations

import os
import sys

import click

from rpod.cli.common import print_json, write
from rpod.errors import UsageError

HELP = {"help_option_names": ["-h", "--help"]}
app = click.Group("secret", help="Manage secrets", no_args_is_help=True, context_settings=HELP)
_LS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"
_LS_HEADERS = {"ID": "ID", "Name": "NAME", "Driver": "DRIVER", "CreatedAt": "CREATED", "UpdatedAt": "UPDATED"}


@app.command("create", context_settings=HELP)
@click.argument("name")
@click.argument("source", required=False)
@click.option("-d", "--driver", default="file", help="Secret driver (file)")
@click.option("--driver-opts", multiple=True, hidden=True)
@click.option("--env", is_flag=True, help="Read the secret data from the environment variable SOURCE")
@click.option("-l", "--label", "labels", multiple=True, help="Labels (K=V)")
@click.option("--replace", is_flag=True, help="Replace a secret of the same name")
def create_cmd(name: str, source: str | None, driver: str, driver_opts: tuple[str, ...], env: bool,
               labels: tuple[str, ...], replace: bool) -> None:
    """Create a new secret from a file, - (stdin) or an environment variable."""
    from rpod.engine import secrets

    if source is None:
        raise UsageError("accepts 2 arg(s), received 1")
    if env:
        if source not in os.environ:
            raise UsageError(f"cannot create store secret data: environment variable {source} is not set")
        data = os.environ[source].encode()
    elif source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise UsageError(f"{e.strerror}: {source}") from None
    rec = secrets.create(None, name, data, labels=list(labels),
                         replace=replace, driver=driver, env=env)
    write(rec.id + "\n")


@app.command("ls", context_settings=HELP)
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("-q", "--quiet", is_flag=True, help="Print the IDs only")
@click.option("-n", "--noheading", is_flag=True, help="Do not print headers")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter (name=, id=)")
def ls_cmd(fmt: str | None, quiet: bool, noheading: bool, filters: tuple[str, ...]) -> None:
    """List secrets."""
    from rpod.cli.common import parse_filters
    from rpod.engine import secrets

    rows = secrets.ls_rows(None, parse_filters(list(filters)))
    if quiet:
        write("".join(r["ID"] + "\n" for r in rows))
        return
    if fmt and fmt.strip() in ("json", "{{json .}}"):
        print_json(rows)
        return
    from rpod.format import render_list

    write(render_list(fmt or _LS_DEFAULT, rows, headers=_LS_HEADERS, noheading=noheading))


app.add_command(ls_cmd, "list")


@app.command("inspect", context_settings=HELP)
@click.argument("secrets_", metavar="SECRET...", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", help="Go template or json")
@click.option("--showsecret", is_flag=True, help="Show the secret data")
def inspect_cmd(secrets_: tuple[str, ...], fmt: str | None, showsecret: bool) -> None:
    """Inspect one or more secrets."""
    from rpod.cli.app import print_error
    from rpod.engine import secrets

    docs, errors = secrets.inspect(None, list(secrets_), show=showsecret)
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        for d in docs:
            write(render_one(fmt, d))
    else:
        print_json(docs)
    for e in errors[:-1]:
        print_error(e)
    if errors:
        raise UsageError(f"inspecting secret: {errors[-1]}")


@app.command("rm", context_settings=HELP)
@click.argument("secrets_", metavar="SECRET...", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all secrets")
@click.option("-i", "--ignore", is_flag=True, help="Ignore missing secrets")
def rm_cmd(secrets_: tuple[str, ...], all_: bool, ignore: bool) -> None:
    """Remove one or more secrets."""
    from rpod.cli.app import print_error
    from rpod.engine import secrets

    if not secrets_ and not all_:
        raise UsageError("requires at least 1 arg(s), only received 0")
    failed = None
    for r in secrets.rm(None, list(secrets_), all_=all_, ignore=ignore):
        if r.error is not None:
            if failed is not None:
                print_error(failed)
            failed = r.error
        else:
            write(r.id + "\n")
    if failed is not None:
        raise failed


@app.command("exists", context_settings=HELP)
@click.argument("secret")
def exists_cmd(secret: str) -> None:
    """Check if a secret exists (exit 0 if it does, 1 if not)."""
    from rpod.engine import secrets

    if not secrets.exists(None, secret):
        raise click.exceptions.Exit(1)
