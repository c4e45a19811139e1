"""``rpod version``, ``rpod info`` and ``rpod unshare``."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("version")
def version(fmt: str = typer.Option(None, "--format", "-f", help="Go template or json")) -> None:
    """Display the rpod version information."""
    import platform

    from rpod import __version__

    print(f"Version:      {__version__}")
    print(f"Python:       {platform.python_version()}")
    print(f"OS/Arch:      linux/{platform.machine()}")
