"""OCI hooks: run each ``{path, args, env, timeout}`` with the container state JSON on stdin."""

from __future__ import annotations

import json

from rootless.runtime.errors import ContainerError

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

CREATE_TIME = ("prestart", "createRuntime")


def hooks_of(config: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list((config.get("hooks") or {}).get(kind) or [])


def run_hooks(hooks: list[dict[str, Any]], state: dict[str, Any], kind: str) -> None:
    """Run ``hooks`` in order; raise ``ContainerError`` on the first failure (non-zero exit or timeout)."""
    import subprocess  # only with hooks: ~5 ms of imports otherwise paid by every container start

    data = json.dumps(state).encode()
    for hook in hooks:
        path = hook["path"]
        argv = list(hook.get("args") or [path])
        env = {k: v for k, _, v in (e.partition("=") for e in hook.get("env") or [])}
        try:
            proc = subprocess.run(argv, executable=path, input=data, env=env, timeout=hook.get("timeout"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise ContainerError(f"{kind} hook {path} timed out after {hook.get('timeout')}s") from None
        except OSError as e:
            raise ContainerError(f"cannot run {kind} hook {path}: {e.strerror}") from e
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise ContainerError(f"{kind} hook {path} failed with exit status {proc.returncode}"
                                 + (f": {err}" if err else ""))
