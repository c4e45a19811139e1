"""Seccomp profiles: rpod's default template, ``--security-opt seccomp=unconfined|FILE``.

A profile file is either a plain OCI ``linux.seccomp`` object or a template in the Docker/Podman
profile format: rules may carry ``includes``/``excludes`` conditions on capabilities
(``{"caps": [...]}``) and architectures (``{"arches": [...]}``), and ``archMap`` lists the
seccomp architectures per host machine.  ``resolve_profile`` turns a template into the OCI object
for one container: it keeps the rules whose conditions hold for the container's capability set and
the host architecture, and drops the template-only keys.
"""

from __future__ import annotations

import copy
import json
import os
import platform
from functools import lru_cache
from typing import Any

from rpod.errors import UsageError

_TEMPLATE_KEYS = ("comment", "includes", "excludes")
_OCI_TOP_KEYS = ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
                 "listenerMetadata", "syscalls")
# Go's GOARCH names (used by Docker profiles in includes.arches) for Python's platform.machine()
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}


@lru_cache(maxsize=1)
def _default_template_text() -> str:
    # a plain file beside this module (importlib.resources costs ~3 ms of imports on run's path)
    with open(os.path.join(os.path.dirname(__file__), "seccomp_default.json"), encoding="utf-8") as f:
        return f.read()


def default_template() -> dict[str, Any]:
    """rpod's default profile template (a fresh copy)."""
    return json.loads(_default_template_text())


def load_profile_file(path: str) -> dict[str, Any]:
    """A profile from ``seccomp=FILE``; raises ``UsageError`` when unreadable or not a profile."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read seccomp profile {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise UsageError(f"seccomp profile {path} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or "defaultAction" not in data:
        raise UsageError(f"seccomp profile {path} has no defaultAction: it is not a seccomp profile")
    return data


def _condition_holds(cond: dict[str, Any] | None, caps: set[str], arch: str, *, include: bool) -> bool:
    """``includes`` holds when every listed cap is present and the arch is listed;
    ``excludes`` holds (i.e. excludes the rule) when any listed cap is present or the arch is listed."""
    if not cond:
        return include
    want_caps = set(cond.get("caps") or [])
    arches = set(cond.get("arches") or [])
    if include:
        return want_caps <= caps and (not arches or arch in arches)
    return bool(want_caps & caps) or arch in arches


def resolve_profile(template: dict[str, Any], caps: list[str] | set[str],
                    machine: str | None = None) -> dict[str, Any]:
    """The OCI ``linux.seccomp`` object for a container whose bounding set is ``caps``."""
    machine = machine or platform.machine()
    goarch = _GOARCH.get(machine, machine)
    capset = set(caps)
    out: dict[str, Any] = {k: copy.deepcopy(template[k]) for k in _OCI_TOP_KEYS
                           if k in template and k != "syscalls"}
    if "architectures" not in out:
        arch_map = template.get("archMap")
        if isinstance(arch_map, dict):
            out["architectures"] = list(arch_map.get(machine, []))
        elif isinstance(arch_map, list):  # Docker's format: [{"architecture": ..., "subArchitectures": [...]}]
            native = "SCMP_ARCH_" + {"x86_64": "X86_64", "aarch64": "AARCH64"}.get(machine, machine.upper())
            for entry in arch_map:
                if entry.get("architecture") == native:
                    out["architectures"] = [native, *entry.get("subArchitectures", [])]
    rules = []
    for rule in template.get("syscalls") or []:
        if "includes" in rule and not _condition_holds(rule["includes"], capset, goarch, include=True):
            continue
        if "excludes" in rule and _condition_holds(rule["excludes"], capset, goarch, include=False):
            continue
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        clean = {k: copy.deepcopy(v) for k, v in rule.items() if k not in _TEMPLATE_KEYS and k != "name"}
        clean["names"] = list(names)
        rules.append(clean)
    out["syscalls"] = rules
    return out


def profile_for(seccomp_opt: str | None, caps: list[str] | set[str], *, privileged: bool = False) -> dict[str, Any] | None:
    """The ``linux.seccomp`` object for ``--security-opt seccomp=VALUE`` (None = default profile),
    or None when the container runs unconfined (``unconfined`` or ``--privileged`` without a file)."""
    if seccomp_opt == "unconfined":
        return None
    if seccomp_opt is None:
        if privileged:
            return None
        return resolve_profile(default_template(), caps)
    return resolve_profile(load_profile_file(seccomp_opt), caps)
