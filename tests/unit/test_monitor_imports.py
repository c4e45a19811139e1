"""The monitor's import closure is C modules and rootless's own small modules, nothing else.

One monitor (a ``python -I -S``) runs per container for the container's whole life, so every
module it imports is memory paid per container (docs/performance.md, "The monitor's memory").
This checks the closure against an allow-list, so a new stdlib import has to be justified here:
``enum`` (via ``signal``/``socket``), ``contextlib``, ``selectors``, ``collections``,
``functools``, ``array`` (imports ``collections.abc``), ``ctypes``, ``json``/``re``, ``typing``,
``dataclasses`` were removed and must not come back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])

# what a bare `python -I -S` has loaded, plus `os` (frozen) and the C modules the monitor uses
# (fcntl, termios, _struct: for a terminal, or journald's entries)
ALLOWED_STDLIB = {
    "__future__", "__main__", "_abc", "_codecs", "_collections_abc", "_ctypes", "_frozen_importlib",
    "_frozen_importlib_external", "_imp", "_io", "_json", "_signal", "_socket", "_stat", "_struct", "_thread",
    "_warnings", "_weakref", "abc", "builtins", "codecs", "encodings", "encodings.aliases", "encodings.utf_8",
    "errno", "genericpath", "io", "marshal", "os", "os.path", "posix", "posixpath", "select", "stat",
    "sys", "time", "zipimport", "fcntl", "termios",
}
ONLY_WHEN_USED = {"fcntl", "termios", "_struct"}  # a terminal's ioctls, journald's entries
REMOVED = ("enum", "signal", "socket", "contextlib", "selectors", "collections", "functools", "array", "ctypes",
           "json", "re", "typing", "dataclasses", "subprocess", "tempfile", "threading", "shutil")

# everything an idle container's monitor loads (entry, loop, subreaper), and what the service
# features add when a container uses them (restart, healthcheck, sd_notify, journald, events)
PATHS = {
    "idle": "import rootless.monitor.main as m; m.become_subreaper(); m.Monitor",
    # a terminal (-t) adds the ioctl modules
    "tty": "import rootless.monitor.main as m; m.become_subreaper(); m.stdio.get_winsize(0); "
           "m.stdio.set_winsize(m.os.open('/dev/null', 0), 1, 1)",
    "services": "import rootless.monitor.main as m; m.become_subreaper(); import rootless.monitor.restart, "
                "rootless.monitor.health, rootless.monitor.notify, rootless.monitor.journal, "
                "rootless.monitor.eventlog, rootless.monitor.detach",
    # a networked container's monitor (slirp4netns is the default) keeps these too
    "network": "import rootless.monitor.main as m; m.become_subreaper(); import rootless.netsetup, "
               "rootless.slirp, rootless.pasta, rootless.procspawn",
}


def _closure(code: str) -> set[str]:
    probe = f"import sys; sys.path.insert(0, {ROOT!r}); {code}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("path", sorted(PATHS))
def test_monitor_imports_only_c_modules_and_its_own(path: str) -> None:
    mods = _closure(PATHS[path])
    assert "rootless.monitor.loop" in mods  # the probe saw the monitor
    unexpected = sorted(m for m in mods if m not in ALLOWED_STDLIB and not m.startswith("rootless"))
    assert not unexpected, f"the monitor now imports {unexpected}: each costs memory in every container"
    assert not mods & set(REMOVED)
    if path in ("idle", "network"):
        assert not mods & ONLY_WHEN_USED, sorted(mods & ONLY_WHEN_USED)


def test_monitor_selector_and_fd_passing_work() -> None:
    """``rootless.monitor.lean``'s stand-ins behave as the stdlib helpers they replace."""
    code = """
import os
from rootless.monitor import lean
a, b = lean.socketpair()
sel = lean.Selector()
sel.register(b, lean.EVENT_READ, "b")
assert sel.select(0) == []
r, w = os.pipe()
lean.send_fds(a, b"x", [r, w])
[(key, ev)] = sel.select(1)
assert (key.fd, key.data, ev) == (b.fileno(), "b", lean.EVENT_READ)
data, fds = lean.recv_fds(b, 16, 3)
assert data == b"x" and len(fds) == 2
os.write(fds[1], b"ok")
assert os.read(r, 2) == b"ok"
sel.unregister(b)
assert sel.get_map() == {}
with lean.suppress(KeyError):
    sel.unregister(b)
try:
    with lean.suppress(KeyError):
        raise ValueError
except ValueError:
    pass
else:
    raise AssertionError("suppress swallowed another exception")
lean.become_subreaper()
if os.fork() == 0:
    if os.fork() == 0:
        os._exit(3)
    os._exit(0)
seen = {os.waitpid(-1, 0)[1] >> 8 for _ in range(2)}
assert seen == {0, 3}, seen  # the grandchild was reparented to us: we are a subreaper
"""
    mods = _closure("exec(" + repr(code) + ")")
    assert "enum" not in mods and "ctypes" not in mods
