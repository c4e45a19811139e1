"""How rpod starts rootless's own entry points: ``python_entry(module, *args)`` is the argv of a
fresh minimal interpreter (``-I -S``: no site-packages, no environment) with rootless importable.

Its own tiny module, so the CLI can spawn the monitor before importing anything else of rootless.
"""

from __future__ import annotations

import os
import sys

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def python_entry(module: str, *args: str) -> list[str]:
    """argv that runs ``module.main()`` in a fresh ``python -I -S`` with rootless importable."""
    code = f"import sys;sys.path.insert(0,{PACKAGE_PARENT!r});from {module} import main;sys.exit(main())"
    return [sys.executable, "-I", "-S", "-c", code, *args]


def runtime_executable() -> str:
    """The built-in OCI runtime as a command: the ``rpod-runtime`` script installed beside this
    interpreter, else its package directory (what ``python -m rootless.runtime`` runs)."""
    script = os.path.join(os.path.dirname(sys.executable), "rpod-runtime")
    if os.access(script, os.X_OK):
        return script
    return os.path.join(PACKAGE_PARENT, "rootless", "runtime")
