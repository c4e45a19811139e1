"""Root-only: contrib/quickstart.sh for a fresh user, then that user's first steps: the README's
usage block as written, ``man rpod-run``, and bash completing a container name, all offline.

The quickstart installs into a throwaway prefix (RPOD_VENV, RPOD_PREFIX) so the machine's own
/opt/rpod and /usr/local are untouched; its apt step is skipped (RPOD_SKIP_APT) because .ci/run
installed the same packages before this suite.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import ALPINE_X86_64

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
USER = "rpodnewcomer"


def _drop_user() -> None:
    subprocess.run(["pkill", "-KILL", "-u", USER], check=False)
    subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)
    for f in ("/etc/subuid", "/etc/subgid"):
        lines = [ln for ln in Path(f).read_text().splitlines() if not ln.startswith(USER + ":")]
        Path(f).write_text("\n".join(lines) + ("\n" if lines else ""))


def _ranges(path: str) -> list[tuple[str, int, int]]:
    out = []
    for ln in Path(path).read_text().splitlines():
        parts = ln.split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append((parts[0], int(parts[1]), int(parts[1]) + int(parts[2])))
    return out


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    if os.getuid() != 0:
        pytest.fail("the root suite must run as root (.ci/run runs it with -m root)")
    _drop_user()
    base = Path(tempfile.mkdtemp(prefix="rpod-qs-"))
    os.chmod(base, 0o755)
    src = base / "src"
    def skip(folder: str, names: list[str]) -> list[str]:  # a clone's files, not a developer's leftovers
        top = {".venv", ".git", "build"} if Path(folder) == REPO else set()
        return [n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")]

    shutil.copytree(REPO, src, ignore=skip)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "HOME": "/root", "RPOD_USER": USER, "RPOD_VENV": str(base / "venv"), "RPOD_PREFIX": str(base / "prefix"),
           "RPOD_SKIP_APT": "1", "ALPINE_TARBALL": str(ALPINE_X86_64)}
    r = subprocess.run(["bash", str(src / "contrib" / "quickstart.sh")], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "hello from a rootless rpod container: root in" in r.stdout, r.stdout
    yield base
    _drop_user()
    shutil.rmtree(base, ignore_errors=True)


def as_user(base: Path, script: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    home = pwd.getpwnam(USER).pw_dir
    env = {"HOME": home, "USER": USER, "LOGNAME": USER, "LANG": "C.UTF-8",
           "PATH": f"{base / 'prefix' / 'bin'}:/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run([shutil.which("runuser") or "/usr/sbin/runuser", "-u", USER, "--", "bash", "-c", f"cd ~ && {script}"], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_quickstart_gives_a_free_subid_range(installed: Path) -> None:
    for f in ("/etc/subuid", "/etc/subgid"):
        ranges = _ranges(f)
        mine = [r for r in ranges if r[0] == USER]
        assert len(mine) == 1, ranges
        _, start, end = mine[0]
        assert end - start == 65536
        for name, s, e in ranges:
            assert name == USER or e <= start or s >= end, (f, name, s, e, mine)


def test_readme_usage_block_after_the_quickstart(installed: Path) -> None:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- usage-block -->\n```sh\n(.*?)\n```", text, re.S)[1]
    script = installed / "usage.sh"
    script.write_text("set -euo pipefail\n" + block + "\n")
    os.chmod(script, 0o644)
    r = as_user(installed, f"bash {script}")
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "hello\n" in r.stdout and "hi\n" in r.stdout


def test_man_page_and_bash_completion_after_the_quickstart(installed: Path) -> None:
    man = installed / "prefix" / "share" / "man"
    r = as_user(installed, f"MANWIDTH=100 man -M {man} rpod-run")
    assert r.returncode == 0 and "rpod run [options] IMAGE" in r.stdout, r.stderr
    assert (man / "man1" / "rpod.1").is_file() and (man / "man1" / "rpod-generate-systemd.1").is_file()
    assert (installed / "prefix" / "share" / "zsh" / "site-functions" / "_rpod").is_file()
    assert (installed / "prefix" / "share" / "fish" / "vendor_completions.d" / "rpod.fish").is_file()
    comp = installed / "prefix" / "share" / "bash-completion" / "completions" / "rpod"
    r = as_user(installed, f"""rpod run -d --name qsweb busybox sleep 1000 >/dev/null
source {comp}
COMP_WORDS=(rpod logs qs); COMP_CWORD=2; __rpod_complete; printf '%s\\n' "${{COMPREPLY[@]}}"
rpod rm -f -t 0 qsweb >/dev/null""")
    assert r.returncode == 0 and r.stdout.split() == ["qsweb"], (r.stdout, r.stderr)
