"""``rpod version``, ``rpod info`` and ``rpod unshare``."""

from __future__ import annotations

import os
import sys

import click

from rpod.cli.common import paths, write

app = click.Group()


def _version_doc() -> dict:
    import platform
    import time

    import rpod
    from rpod import __version__
    from rpod.image.pull import host_arch

    try:  # when this rpod was installed (built): the package's own files
        built = int(os.stat(rpod.__file__).st_mtime)
    except OSError:
        built = 0
    client = {
        "APIVersion": __version__,
        "Version": __version__,
        "GoVersion": f"python{platform.python_version()}",
        "GitCommit": "",
        "BuiltTime": time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(built)),
        "Built": built,
        "OsArch": f"linux/{host_arch()}",
        "Os": "linux",
    }
    # no server: rpod is daemonless; .Server mirrors .Client so docker-style scripts keep working
    return {"Client": client, "Server": dict(client)}


@app.command("version")
@click.option("--format", "-f", "fmt", help="Go template or json")
def version(fmt: str | None) -> None:
    """Display the rpod version information."""
    doc = _version_doc()
    if fmt:
        from rpod.format import render_one

        write(render_one(fmt, doc, name="version", json_indent=None))
        return
    c = doc["Client"]  # Podman's layout (scripts read "Version:"); "Go Version" names the language runtime
    write(
        f"Client:       rpod Engine\nVersion:      {c['Version']}\nAPI Version:  {c['APIVersion']}\n"
        f"Go Version:   {c['GoVersion']}\nBuilt:        {c['BuiltTime']}\nOS/Arch:      {c['OsArch']}\n"
    )


def show_info(fmt: str | None) -> None:
    from rpod.sysinfo import gather, go_view, to_yaml

    doc = gather(paths())
    if fmt:
        from rpod.format import render_one
        from rpod.format.report import is_json

        write(render_one(fmt, doc if is_json(fmt) else go_view(doc), name="info", json_indent=2))
    else:
        write(to_yaml(doc) + "\n")


@app.command("info")
@click.option("--format", "-f", "fmt", help="Go template or json")
def info(fmt: str | None) -> None:
    """Display rpod related system information."""
    show_info(fmt)


@app.command("unshare", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [ARG...]]")
def unshare(command: tuple[str, ...]) -> None:
    """Run a command in a user namespace with the user's subordinate id map (as root there)."""
    from rootless import userns
    from rootless.subid import default_mapping

    p = paths()
    argv = list(command) or [os.environ.get("SHELL") or "/bin/sh"]
    env = dict(os.environ, CONTAINERS_GRAPHROOT=str(p.root), CONTAINERS_RUNROOT=str(p.runroot),
               RPOD_UNSHARE="1", _CONTAINERS_ROOTLESS_UID=str(os.getuid()),
               _CONTAINERS_ROOTLESS_GID=str(os.getgid()))
    mapping = default_mapping()
    try:
        proc = userns.popen(argv, mapping, env=env)
    except FileNotFoundError:
        sys.stderr.write(f'Error: exec: "{argv[0]}": executable file not found in $PATH\n')
        raise click.exceptions.Exit(127) from None
    rc = proc.wait()
    raise click.exceptions.Exit(rc if rc >= 0 else 255)  # killed by a signal: 255, as Podman
