"""``compose``: find an installed compose provider and the command line that points it at rpod.

The provider is ``$RPOD_COMPOSE_PROVIDER`` (or ``$PODMAN_COMPOSE_PROVIDER``), else the first of
``podman-compose`` and ``docker-compose`` on PATH (and beside this interpreter, for a venv).
podman-compose gets ``--podman-path RPOD``; docker-compose needs a Docker API socket, which
rpod does not serve yet, and is refused with that reason.
"""

from __future__ import annotations

import os
import shutil
import sys

from rpod.errors import RpodError

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


def provider_argv(args: list[str]) -> list[str]:
    """The provider's argv (its path first) for ``rpod compose ARGS``."""
    from rpod.systemd.unitfile import rpod_executable

    provider = find_provider()
    if not os.path.basename(provider).startswith("podman-compose"):
        raise RpodError(f"{os.path.basename(provider)} needs a Docker API socket, which rpod does not serve",
                        hint="install podman-compose instead")
    exe = rpod_executable()
    if len(exe) != 1:  # podman-compose takes one path: a script that runs ``python -m rpod``
        raise RpodError("cannot find the rpod executable to hand to podman-compose",
                        hint="install rpod with its 'rpod' script on PATH")
    return [provider, "--podman-path", exe[0], *args]
