"""The few ``containers.conf`` settings rpod honours, from the file ``CONTAINERS_CONF`` names
(read only when it is set, as Podman's tests and scripts use it): ``[engine] runtime``,
``[engine.runtimes]``, ``infra_image``, ``image_volume_mode``."""

from __future__ import annotations

import os
from typing import Any

_cache: dict[str, Any] = {}


def _document() -> dict[str, Any]:
    path = os.environ.get("CONTAINERS_CONF")
    if not path:
        return {}
    if path not in _cache:
        import tomllib

        try:
            with open(path, "rb") as f:
                _cache[path] = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError):
            _cache[path] = {}
    return _cache[path]


def engine_setting(key: str) -> Any:
    """``[engine] KEY`` (None when unset or when no ``CONTAINERS_CONF`` is given)."""
    engine = _document().get("engine")
    return engine.get(key) if isinstance(engine, dict) else None


def engine_str(key: str) -> str:
    """``[engine] KEY`` as a non-empty string, else ""."""
    value = engine_setting(key)
    return value if isinstance(value, str) else ""


def builtin_runtime_paths() -> tuple[str, str]:
    """The paths that name rpod's own runtime: its command (``rpod-runtime``, what ``info``
    shows) and its package directory."""
    from rootless.entry import PACKAGE_PARENT, runtime_executable

    return runtime_executable(), os.path.join(PACKAGE_PARENT, "rootless", "runtime")
