"""Running systemd unit files the way systemd would, for tests on a machine without a user manager.

``unit_commands`` reads a unit's ``Exec*=``/``Environment=`` lines; ``expand`` applies the
specifiers; ``main`` is a stand-in ``systemctl`` (``python -m tests.support.systemd_units --user
restart UNIT``) that logs each call to ``$FAKE_SYSTEMCTL_LOG`` and performs the restart from the
unit file in ``$FAKE_SYSTEMD_UNIT_DIR``: ExecStop, ExecStopPost, then ExecStartPre, ExecStart
(``-`` prefixed lines may fail).  Its exit status is ExecStart's, as ``systemctl restart`` reports.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys


def unit_commands(text: str) -> dict[str, list[list[str]]]:
    """``Exec*=`` lines of a unit as argv lists (continuations joined, quotes and ``$$`` undone),
    plus ``Environment=`` assignments under the key ``Environment`` (``X-`` sections skipped)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out: dict[str, list[list[str]]] = {}
    section = ""
    for line in joined.splitlines():
        if line.startswith("["):
            section = line
            continue
        key, sep, value = line.partition("=")
        if sep and not section.startswith("[X-") and (key.startswith("Exec") or key == "Environment"):
            words = [w.replace("$$", "$") for w in shlex.split(value)]
            out.setdefault(key, []).append(words)
    return out


def expand(words: list[str], specifiers: dict[str, str]) -> list[str]:
    """systemd's ``%t``, ``%n``, ``%N`` and ``%%`` in each word."""
    return [re.sub(r"%(.)", lambda m: specifiers.get(m.group(1), m.group(0)), w) for w in words]


def run_lines(text: str, unit: str, keys: tuple[str, ...], env: dict[str, str]) -> int:
    """Run the unit's lines for ``keys`` in order; the status of the first failing one (0 if none)."""
    cmds = unit_commands(text)
    spec = {"t": env["XDG_RUNTIME_DIR"], "n": unit, "N": unit.rsplit(".", 1)[0], "%": "%"}
    unit_env = {**env}
    for words in cmds.get("Environment", []):
        for w in words:
            k, _, v = w.partition("=")
            unit_env[k] = expand([v], spec)[0]
    for key in keys:
        for argv in cmds.get(key, []):
            may_fail = argv[0].startswith("-")
            argv = expand([argv[0].lstrip("-"), *argv[1:]], spec)
            r = subprocess.run(argv, env=unit_env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=120)
            sys.stderr.write(r.stderr)
            if r.returncode != 0 and not may_fail:
                return r.returncode
    return 0


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_SYSTEMCTL_LOG"], "a") as log:
        log.write(" ".join(argv) + "\n")
    args = [a for a in argv if a != "--user"]
    if len(args) != 2 or args[0] != "restart":
        sys.stderr.write(f"fake systemctl: unsupported {argv}\n")
        return 1
    unit = args[1]
    path = os.path.join(os.environ["FAKE_SYSTEMD_UNIT_DIR"], unit)
    if not os.path.exists(path):
        sys.stderr.write(f"Failed to restart {unit}: Unit {unit} not found.\n")
        return 5
    with open(path) as f:
        text = f.read()
    env = dict(os.environ)
    run_lines(text, unit, ("ExecStop", "ExecStopPost"), env)
    code = run_lines(text, unit, ("ExecStartPre", "ExecStart"), env)
    if code:
        sys.stderr.write(f"Job for {unit} failed because the control process exited with error code.\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
