"""Every everyday start-up path stays free of the heavy modules (issue #15, docs/performance.md).

Each path runs in a fresh interpreter, the way a user runs it (``python -m rpod ...`` on an empty
store), and reports ``sys.modules`` when it leaves (``atexit`` and ``os._exit``, which ``run``
ends with).  The commands fail where an empty store makes them fail (no such container, image
not known), after their module imports and their store reads: ``run`` spawns its monitor first
thing, so it is covered up to the monitor.  The monitor and the runtime child are checked the way
they start: ``python -I -S`` importing their entry modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])

# third-party packages and stdlib subsystems that no short command needs
HEAVY = ("rich", "requests", "urllib3", "pyroute2", "yaml", "h11", "zstandard", "charset_normalizer", "idna",
         "certifi", "jsonschema", "ssl", "http", "email", "asyncio", "concurrent", "hashlib", "tarfile",
         "zipfile", "gzip", "logging", "multiprocessing", "xml", "argparse", "unittest", "ctypes")
# what the click-free everyday commands no longer import (docs/performance.md, "Session 6"):
# records are rpod.records, annotations stay unevaluated, typing names sit under TYPE_CHECKING
FAST_HEAVY = ("click", "dataclasses", "typing", "inspect", "ast", "dis", "tokenize", "platform", "subprocess")
# the monitor is resident for the container's life: every module is memory it keeps
MONITOR_HEAVY = (*HEAVY, "click", "rpod", "dataclasses", "typing", "subprocess", "tempfile", "pathlib", "json", "re",
                 "shutil", "threading", "inspect")

_REPORT = """
import atexit, json, os, runpy, sys
def report(*_):
    names = sorted({m.split('.')[0] for m in sys.modules})
    os.write(int(os.environ["MODS_FD"]), json.dumps(names).encode())
atexit.register(report)
real_exit = os._exit
def _exit(code):
    report()
    real_exit(code)
os._exit = _exit
sys.argv = ["rpod", *sys.argv[1:]]
runpy.run_module("rpod", run_name="__main__")
"""


def _modules(tmp: Path, *args: str) -> tuple[set[str], str]:
    """Top-level modules loaded by ``rpod ARGS`` on an empty store, and its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPOD_") or k == "RPOD_NO_FASTPATH"}
    env.update(RPOD_ROOT=str(tmp / "root"), RPOD_RUNROOT=str(tmp / "run"), XDG_RUNTIME_DIR=str(tmp),
               XDG_CONFIG_HOME=str(tmp / "config"), HOME=str(tmp), PYTHONPATH=ROOT)
    r, w = os.pipe()
    env["MODS_FD"] = str(w)
    proc = subprocess.Popen([sys.executable, "-c", _REPORT, *args], env=env, pass_fds=(w,), cwd=str(tmp),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, err = proc.communicate(timeout=120)
    assert data, f"rpod {' '.join(args)} reported no modules: {err.decode()[-500:]}"
    return set(json.loads(data)), err.decode()


@pytest.mark.parametrize("args", [
    ("ps", "-a"),
    ("images",),
    ("version",),
    ("run", "--rm", "--pull", "never", "--network", "none", "nosuchimage", "true"),
    ("run", "-d", "--pull", "never", "nosuchimage", "true"),
    ("exec", "nosuch", "true"),
    ("start", "nosuch"),
    ("stop", "nosuch"),
    ("rm", "nosuch"),
    ("inspect", "nosuch"),
    ("logs", "nosuch"),
    ("kill", "nosuch"),
    ("wait", "nosuch"),
    ("port", "nosuch"),
    ("container", "ls", "-a"),
    ("image", "ls"),
    ("image", "inspect", "nosuch"),
    ("--root", "ROOT", "ps", "-a", "--format", "{{.ID}}"),
], ids=lambda a: " ".join(a[:3]))
def test_cli_path_imports_no_heavy_module(tmp_path: Path, args: tuple[str, ...]) -> None:
    args = tuple(str(tmp_path / "root") if a == "ROOT" else a for a in args)
    mods, err = _modules(tmp_path, *args)
    if args[0] == "run":
        assert "image not known" in err  # it got past the monitor's spawn and the image lookup
    elif "nosuch" in args:
        assert "nosuch" in err  # it read the store and failed where an empty store fails
    assert not mods & set(HEAVY), f"rpod {' '.join(args)} imported {sorted(mods & set(HEAVY))}"
    assert "rpod" in mods  # the probe saw the real CLI
    if args[0] == "run":  # not on the fast path (yet): click parses run's ~80 flags
        assert "click" in mods
        assert "dataclasses" not in mods, "run's records (RunOptions, id maps, the OCI spec...) are @record"
    else:  # the everyday commands start without click (rpod.cli.fast)
        assert "click" not in mods, f"rpod {' '.join(args)} imported click: {err[-300:]}"
        lean = mods & set(FAST_HEAVY)
        if "inspect" in args:  # a short image name is resolved through registries.conf: tomllib imports typing
            lean -= {"typing"}
        assert not lean, f"rpod {' '.join(args)} imported {sorted(lean)}: {err[-300:]}"


def test_no_fastpath_takes_click(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``RPOD_NO_FASTPATH=1`` runs every command through click (the reference the fast path matches)."""
    monkeypatch.setenv("RPOD_NO_FASTPATH", "1")
    mods, _ = _modules(tmp_path, "ps", "-a")
    assert "click" in mods


@pytest.mark.parametrize("entry", [
    "rootless.monitor.main",  # what the monitor imports before it waits for its configuration
    "rootless.monitor.main, rootless.monitor.loop, rootless.monitor.stdio, rootless.monitor.exitfile, "
    "rootless.monitor.eventlog, rootless.monitor.restart, rootless.monitor.notify",
])
def test_monitor_imports_no_heavy_module(entry: str) -> None:
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); import {entry}; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")  # no json: it is checked
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    mods = set(out.stdout.split())
    assert not mods & set(MONITOR_HEAVY), f"the monitor imported {sorted(mods & set(MONITOR_HEAVY))}"


def test_runtime_child_imports_no_heavy_module() -> None:
    """The monitor's runtime child (``rootless.runtime.api``) runs before every container starts."""
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); import rootless.runtime.api; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    mods = set(out.stdout.split())
    heavy = {"click", "rpod", "dataclasses", "typing", "subprocess", "pathlib", "shutil", *HEAVY} - {"ctypes"}
    assert not mods & heavy, f"the runtime child imported {sorted(mods & heavy)}"
