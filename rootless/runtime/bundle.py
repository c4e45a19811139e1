"""Load and check an OCI bundle's ``config.json``.  Pure: no namespaces, no mounts."""

from __future__ import annotations

import json
import os

from rootless.runtime.errors import ContainerError

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

KNOWN_NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


def load(bundle: str, config_path: str | None = None) -> dict[str, Any]:
    """Read ``bundle/config.json`` (or ``config_path``: crun's ``create --config``), make
    ``root.path`` absolute (against the bundle) and validate what the runtime needs."""
    path = config_path or os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            config = json.load(f)
    except FileNotFoundError:
        raise ContainerError(f"no config.json in bundle {bundle}", hint="pass the bundle directory with --bundle") from None
    except (OSError, ValueError) as e:
        raise ContainerError(f"cannot load {path}: {e}") from e
    validate(config)
    root = config["root"]
    root["path"] = os.path.normpath(os.path.join(os.path.abspath(bundle), root["path"]))
    if not os.path.isdir(root["path"]):
        raise ContainerError(f"root.path {root['path']} is not a directory")
    return config


def validate(config: dict[str, Any]) -> None:
    """Raise ``ContainerError`` naming the first field that is missing or malformed."""
    if not isinstance(config, dict):
        raise ContainerError("config.json must hold a JSON object")
    if not isinstance(config.get("ociVersion"), str):
        raise ContainerError("config.json: ociVersion is missing")
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str):
        raise ContainerError("config.json: root.path is missing")
    proc = config.get("process")
    if not isinstance(proc, dict):
        raise ContainerError("config.json: process is missing")
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise ContainerError("config.json: process.args must be a non-empty list of strings")
    if not isinstance(proc.get("cwd", "/"), str) or not proc.get("cwd", "/").startswith("/"):
        raise ContainerError("config.json: process.cwd must be an absolute path")
    seen = set()
    for ns in namespaces(config):
        t = ns.get("type")
        if t not in KNOWN_NAMESPACES:
            raise ContainerError(f"config.json: unknown namespace type {t!r}")
        if t in seen:
            raise ContainerError(f"config.json: namespace {t!r} listed twice")
        seen.add(t)
    for m in config.get("mounts") or []:
        if not isinstance(m, dict) or not str(m.get("destination", "")).startswith("/"):
            raise ContainerError(f"config.json: mount {m!r} needs an absolute destination")


def namespaces(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list((config.get("linux") or {}).get("namespaces") or [])


def namespace_types(config: dict[str, Any]) -> set[str]:
    return {ns["type"] for ns in namespaces(config)}


def env_value(env: list[str], name: str, default: str = "") -> str:
    """Value of ``name`` in an OCI ``process.env`` list."""
    prefix = name + "="
    for item in reversed(env):
        if item.startswith(prefix):
            return item[len(prefix):]
    return default
