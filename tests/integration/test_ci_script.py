"""The done-when test of the command surface: a CI-style ``set -e`` shell script
(``scripts/ci_service.sh``) gives the same output with rpod as with Podman 4.3.1, both run as
the unprivileged user against the test registry; only IDs, times and sizes are normalised."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.leaks import stop_podman
from tests.support.registry import Registry
from tests.support.rpodcli import RpodEnv

SCRIPTS = Path(__file__).parent / "scripts"
PODMAN = shutil.which("podman") or "/usr/bin/podman"


def normalise(text: str) -> str:
    """IDs (64 and 12 hex digits), times (and ``ps`` durations) and sizes replaced by placeholders;
    rpod's ``Hint:`` lines dropped."""
    text = re.sub(r"(?m)^Hint: .*\n", "", text)  # rpod's hints (after an Error: line) are its own addition
    text = re.sub(r"\b[0-9a-f]{64}\b", "<ID>", text)
    text = re.sub(r"\b[0-9a-f]{12}\b", "<ID>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?", "<TIME>", text)
    text = re.sub(r"\b(Less than a second|About a minute|About an hour|"
                  r"\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))\b", "<DURATION>", text)
    return re.sub(r"\b\d+(\.\d+)?\s?[kMG]?B\b", "<SIZE>", text)


def warnings(stderr: str) -> list[str]:
    """stderr as ``level: message`` lines.  Podman prints logrus' key=value form when stderr is
    not a terminal and rpod always the terminal form (``WARN[0002] ...``); Podman's warning about
    the host's ``/`` not being a shared mount is about this machine, not the script."""
    out = []
    for line in stderr.splitlines():
        m = re.fullmatch(r'time="[^"]*" level=(\w+) msg="(.*)"', line)
        if m:
            level, msg = m[1], m[2].replace('\\"', '"')
        else:
            m = re.fullmatch(r"(WARN|ERRO|INFO)\[\d+\] (.*)", line)
            level, msg = ({"WARN": "warning", "ERRO": "error", "INFO": "info"}[m[1]], m[2]) if m else ("", line)
        if "is not a shared mount" not in msg:
            out.append(f"{level}: {msg}")
    return out


def run_script(script: str, engine: str, env: dict[str, str], workdir: Path,
               image: str) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["sh", str(SCRIPTS / script)], env={**env, "ENGINE": engine, "IMAGE": image}, cwd=workdir,
                          capture_output=True, text=True, timeout=180)


def both(script: str, tmp_path: Path, registry: Registry, images: ImageSet
         ) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``script`` with rpod and with Podman, each in its own fresh store; both must succeed."""
    if not Path(PODMAN).exists():
        raise AssertionError("podman is not installed (apt-get install podman): this test compares against it")
    image = images.ref("alpine")
    outputs = {}
    for name in ("rpod", "podman"):
        env = RpodEnv(tmp_path / name)
        env.write_registries_conf(search=[registry.address], insecure=[registry.address])
        engine = (f"{sys.executable} -m rpod" if name == "rpod"
                  else f"{PODMAN} --cgroup-manager cgroupfs --events-backend file")
        try:
            r = run_script(script, engine, env, tmp_path / f"{name}-work", image)
        finally:
            if name == "podman":
                stop_podman(engine.split(), env, env.base)
            env.cleanup()  # rpod's: rm -af, then whatever still references the env is killed
        assert r.returncode == 0, f"{name}: the script failed (exit {r.returncode})\n{r.stdout}\n{r.stderr}"
        outputs[name] = r
    return outputs


@pytest.mark.podman
@pytest.mark.slow
def test_ci_script_same_output_as_podman(tmp_path: Path, registry: Registry, images: ImageSet) -> None:
    outputs = both("ci_service.sh", tmp_path, registry, images)
    mine, theirs = normalise(outputs["rpod"].stdout), normalise(outputs["podman"].stdout)
    assert mine == theirs, f"rpod:\n{mine}\npodman:\n{theirs}"
    # sanity: the script really did its job
    assert "hello from ci" in mine and "exit code: 137" in mine and "containers left: 0" in mine
    assert warnings(outputs["rpod"].stderr) == warnings(outputs["podman"].stderr)


@pytest.mark.podman
@pytest.mark.slow
def test_cp_rules_and_diff_same_as_podman(tmp_path: Path, registry: Registry, images: ImageSet) -> None:
    outputs = both("cp_edges.sh", tmp_path, registry, images)
    mine, theirs = normalise(outputs["rpod"].stdout), normalise(outputs["podman"].stdout)
    assert mine == theirs, f"rpod:\n{mine}\npodman:\n{theirs}"
    assert "hostname is the container's" in mine and "A /root/added" in mine
    assert mine.count("rc=125") == 9 and "Error: destination must be a directory when copying from stdin" in mine


@pytest.mark.podman
@pytest.mark.slow
def test_command_surface_same_as_podman(tmp_path: Path, registry: Registry, images: ImageSet) -> None:
    outputs = both("surface.sh", tmp_path, registry, images)
    mine, theirs = normalise(outputs["rpod"].stdout), normalise(outputs["podman"].stdout)
    assert mine == theirs, f"rpod:\n{mine}\npodman:\n{theirs}"
    assert "rc=127" in mine and "10\n" in mine
