"""``rpod compose ...``: run an installed compose provider pointed at rpod, as ``podman compose``.

The provider is ``$RPOD_COMPOSE_PROVIDER`` (or ``$PODMAN_COMPOSE_PROVIDER``), else the first of
``podman-compose`` and ``docker-compose`` on PATH (and beside this interpreter, for a venv).
podman-compose gets ``--podman-path RPOD``; docker-compose needs a Docker API socket, which
rpod does not serve yet, and is refused with that reason.
"""

from __future__ import annotations

import os
import shutil
import sys

import click

from rpod.errors import RpodError

app = click.Group()
PROVIDERS = ("podman-compose", "docker-compose")


def find_provider() -> str:
    forced = os.environ.get("RPOD_COMPOSE_PROVIDER") or os.environ.get("PODMAN_COMPOSE_PROVIDER")
    if forced:
        return forced
    beside = os.path.dirname(sys.executable)
    for name in PROVIDERS:
        for cand in (shutil.which(name), os.path.join(beside, name)):
            if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
    raise RpodError("looking up compose provider failed: no compose provider found",
                    hint="install podman-compose (pip install podman-compose, or apt-get install podman-compose) "
                         "or set RPOD_COMPOSE_PROVIDER")


@app.command("compose", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                          "allow_interspersed_args": False, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def compose_cmd(args: tuple[str, ...]) -> None:
    """Run compose workloads via an external provider such as podman-compose."""
    from rpod.systemd.unitfile import rpod_executable

    provider = find_provider()
    argv = [provider]
    if os.path.basename(provider).startswith("podman-compose"):
        exe = rpod_executable()
        if len(exe) != 1:  # podman-compose takes one path: a script that runs ``python -m rpod``
            raise RpodError("cannot find the rpod executable to hand to podman-compose",
                            hint="install rpod with its 'rpod' script on PATH")
        argv += ["--podman-path", exe[0]]
    else:
        raise RpodError(f"{os.path.basename(provider)} needs a Docker API socket, which rpod does not serve",
                        hint="install podman-compose instead")
    sys.stdout.flush()
    sys.stderr.write(f">>>> Executing external compose provider \"{provider}\". Please refer to the "
                     "documentation for details. <<<<\n\n")
    sys.stderr.flush()
    os.execv(provider, argv + list(args))
