"""The ``containers.conf`` settings rpod honours, from the file ``CONTAINERS_CONF`` names (read
only when it is set, as Podman's tests and scripts use it): ``[engine] runtime``,
``[engine.runtimes]``, ``infra_image``, ``image_volume_mode``, ``events_logger``,
``events_logfile_path``, ``events_logfile_max_size``; ``[containers] userns``, ``dns_servers``,
``dns_searches``, ``dns_options``, ``base_hosts_file``, ``host_containers_internal_ip``."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

_cache: dict[str, Any] = {}

# containers/common's default ``events_logfile_max_size`` ("1m": 1,000,000 bytes)
DEFAULT_EVENTS_LOGFILE_MAX_SIZE = 1_000_000


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


def _setting(table: str, key: str) -> Any:
    section = _document().get(table)
    return section.get(key) if isinstance(section, dict) else None


def engine_setting(key: str) -> Any:
    """``[engine] KEY`` (None when unset or when no ``CONTAINERS_CONF`` is given)."""
    return _setting("engine", key)


def engine_str(key: str) -> str:
    """``[engine] KEY`` as a non-empty string, else ""."""
    return section_str("engine", key)


def section_str(section: str, key: str) -> str:
    """``[SECTION] KEY`` as a string, else "" (e.g. ``[containers] userns``)."""
    value = _setting(section, key)
    return value if isinstance(value, str) else ""


def containers_str(key: str) -> str:
    """``[containers] KEY`` as a string, else ""."""
    return section_str("containers", key)


def containers_list(key: str) -> list[str] | None:
    """``[containers] KEY`` as a list of strings; None when unset (so "set but empty" differs)."""
    value = _setting("containers", key)
    if not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, str)]


def events_logfile_max_size() -> int:
    """``[engine] events_logfile_max_size`` in bytes (go-units ``FromHumanSize`` as
    containers/common: ``1m`` = 1,000,000; an integer is bytes); 0: never rotate."""
    value = engine_setting("events_logfile_max_size")
    if value is None:
        return DEFAULT_EVENTS_LOGFILE_MAX_SIZE
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*", str(value), re.IGNORECASE)
    if not m:
        return DEFAULT_EVENTS_LOGFILE_MAX_SIZE
    return int(float(m.group(1)) * 1000 ** " kmgtp".index(m.group(2).lower() or " "))


def builtin_runtime_paths() -> tuple[str, str]:
    """The paths that name rpod's own runtime: its command (``rpod-runtime``, what ``info``
    shows) and its package directory."""
    from rootless.entry import PACKAGE_PARENT, runtime_executable

    return runtime_executable(), os.path.join(PACKAGE_PARENT, "rootless", "runtime")
