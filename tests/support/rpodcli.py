"""Running the ``rpod`` CLI as a subprocess in an isolated per-test environment."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.registry import Registry

_DROPPED_PREFIXES = ("XDG_", "RPOD_", "CONTAINERS_", "REGISTRY_AUTH_FILE", "DOCKER_")


class RpodEnv(dict[str, str]):
    """Environment variables for one isolated rpod (a ``dict``, pass it as ``env=``).

    HOME, XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME live under ``base``;
    XDG_RUNTIME_DIR is a short 0700 directory under /tmp (socket paths must stay < 108 bytes).
    """

    def __init__(self, base: Path) -> None:
        super().__init__({k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)})
        self.base = base
        self.home = base / "home"
        self.data_home = self.home / ".local" / "share"
        self.config_home = self.home / ".config"
        self.cache_home = self.home / ".cache"
        for d in (self.home, self.data_home, self.config_home, self.cache_home):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="rpod-rt-"))  # mkdtemp makes it 0700
        self.update({
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.data_home),
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_CACHE_HOME": str(self.cache_home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
        })

    @property
    def registries_conf(self) -> Path:
        """``$XDG_CONFIG_HOME/containers/registries.conf``."""
        return self.config_home / "containers" / "registries.conf"

    def write_registries_conf(self, search: Sequence[str], insecure: Sequence[str] = ()) -> Path:
        """Write registries.conf (v2): ``search`` as unqualified-search-registries, each of
        ``insecure`` as a ``[[registry]]`` with ``insecure = true``."""
        lines = ["unqualified-search-registries = [" + ", ".join(f'"{r}"' for r in search) + "]", ""]
        for location in insecure:
            lines += ["[[registry]]", f'location = "{location}"', "insecure = true", ""]
        self.registries_conf.parent.mkdir(parents=True, exist_ok=True)
        self.registries_conf.write_text("\n".join(lines))
        policy = self.registries_conf.parent / "policy.json"
        if not policy.exists():
            policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        return self.registries_conf

    def trust(self, registry: Registry) -> Path | None:
        """Make this environment trust a TLS registry's CA (``certs.d/HOST:PORT/ca.crt``)."""
        return registry.trust_in(self.config_home)

    def write_auth(self, registry: Registry) -> Path:
        """Store the registry's credentials in ``$XDG_RUNTIME_DIR/containers/auth.json``
        (Podman's default auth file), as ``podman login`` would."""
        auth_file = self.runtime_dir / "containers" / "auth.json"
        auth_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        auths = json.loads(auth_file.read_text()) if auth_file.exists() else {"auths": {}}
        token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
        auths["auths"][registry.address] = {"auth": token}
        auth_file.write_text(json.dumps(auths, indent=1))
        auth_file.chmod(0o600)
        return auth_file

    def may_run_something(self) -> bool:
        """True when the store or the runtime directory holds containers, crun state or network
        namespaces, i.e. something of this environment may still run (a few stat calls)."""
        run = self.runtime_dir / "rpod"
        dirs = [run / "containers", run / "runtime", run / "netns", self.data_home / "rpod" / "containers"]
        dirs += [Path(self[k]) / sub for k in ("RPOD_ROOT", "RPOD_RUNROOT") if self.get(k)
                 for sub in ("containers", "runtime", "netns")]
        for d in dirs:
            try:
                with os.scandir(d) as it:
                    if next(it, None) is not None:
                        return True
            except OSError:
                continue
        return False

    def stop_everything(self) -> None:
        """Stop what this environment still runs: ``rpod rm -af -t 0`` when a process references
        its directories, then SIGKILL whatever still does (monitors, their containers, crun,
        helpers; see ``tests.support.leaks``).  Nothing is done when the store holds no container."""
        from tests.support.leaks import processes_referencing, stop_referencing

        if not self.may_run_something():
            return
        # "DIR/" so that .../test_x1/rpod never matches .../test_x10/rpod (the runtime dir's name has a fixed length)
        needles = (self.runtime_dir, f"{self.base}/",
                   *(f"{self[k].rstrip('/')}/" for k in ("RPOD_ROOT", "RPOD_RUNROOT") if self.get(k)))
        if not processes_referencing(needles):
            return
        try:
            run_rpod(self, "rm", "-af", "-t", "0", timeout=30)
        except subprocess.SubprocessError as e:
            print(f"warning: rpod rm -af in cleanup failed: {e}")
        stop_referencing(*needles)

    def cleanup(self) -> None:
        """Stop what the environment still runs (``stop_everything``), then remove the runtime
        directory and the store (whose files belong to subordinate ids, so plain removal fails:
        it goes through a user namespace)."""
        from rootless.subid import default_mapping
        from rootless.userns import remove_tree

        try:
            self.stop_everything()
        except Exception as e:  # never hide the test's own result behind a cleanup problem
            print(f"warning: could not stop the processes of {self.base}: {e}")
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        try:
            remove_tree(self.data_home, default_mapping())
        except Exception as e:  # never hide the test's own result behind a cleanup problem
            print(f"warning: could not remove {self.data_home}: {e}")


def run_rpod(env: dict[str, str], *args: str, input: str | None = None,  # noqa: A002 - mirrors subprocess
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rpod ARGS`` with ``env``; text mode, output captured, never raises on exit status."""
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        [sys.executable, "-m", "rpod", *args],
        env=env,
        **stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
        cwd=env.get("HOME"),
    )


def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert that an rpod run succeeded, showing its output when it did not; return it."""
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def wait_for_log(env: dict[str, str], name: str, text: str, timeout: float = 60) -> str:
    """Wait (generously: CI is a loaded 2-core machine) until ``rpod logs NAME`` shows ``text``,
    e.g. the line a container prints once its signal traps are set; the logs."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        logs = run_rpod(env, "logs", name).stdout
        if text in logs:
            return logs
        assert time.monotonic() < deadline, f"{name} never logged {text!r}: {logs[-500:]!r}"
        time.sleep(0.1)


def inspect_format(env: dict[str, str], name: str, fmt: str) -> str:
    """``rpod inspect --format FMT NAME`` (asserted to succeed), stripped."""
    return ok(run_rpod(env, "inspect", "--format", fmt, name)).stdout.strip()
