"""The image config a build or commit writes: Docker's rules for the metadata instructions.

Pure functions over the OCI image config dict (``{"created", "architecture", "os", "config":
{...}, "rootfs", "history"}``): ENV, LABEL, CMD/ENTRYPOINT (shell vs exec form, ENTRYPOINT
clearing an inherited CMD), EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, HEALTHCHECK, ONBUILD.
"""

from __future__ import annotations

import copy
import posixpath
import time
from typing import Any

from rpod.errors import UsageError

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def iso(ts: float) -> str:
    """RFC 3339 in UTC with nanoseconds trimmed as Go prints them."""
    whole = int(ts)
    frac = f"{ts - whole:.9f}"[2:].rstrip("0")
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def new_config(base: dict[str, Any] | None, arch: str, os_name: str) -> dict[str, Any]:
    """A copy of the base image's config to build on (scratch: an empty one)."""
    if base:
        cfg = copy.deepcopy(base)
        for key in ("container", "container_config", "docker_version", "id", "parent"):
            cfg.pop(key, None)
    else:
        cfg = {"architecture": arch, "os": os_name, "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
               "history": []}
    cfg.setdefault("config", {})
    cfg["config"] = cfg["config"] or {}
    cfg.setdefault("history", [])
    return cfg


def inner(cfg: dict[str, Any]) -> dict[str, Any]:
    c = cfg.get("config")
    if not isinstance(c, dict):
        c = cfg["config"] = {}
    return c


def env_dict(cfg: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in inner(cfg).get("Env") or []:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def set_env(cfg: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    env = inner(cfg).get("Env") or []
    for k, v in pairs:
        env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
    inner(cfg)["Env"] = env


def set_labels(cfg: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    labels = dict(inner(cfg).get("Labels") or {})
    labels.update(pairs)
    inner(cfg)["Labels"] = labels


def command_form(json_form: list[str] | None, text: str, shell: list[str]) -> list[str]:
    """Exec form as given, shell form as ``SHELL + [text]``."""
    return list(json_form) if json_form is not None else [*shell, text]


def set_cmd(cfg: dict[str, Any], argv: list[str]) -> None:
    inner(cfg)["Cmd"] = argv


def set_entrypoint(cfg: dict[str, Any], argv: list[str], cmd_set_in_stage: bool) -> None:
    inner(cfg)["Entrypoint"] = argv
    if not cmd_set_in_stage:  # Docker: an ENTRYPOINT drops the CMD inherited from the base
        inner(cfg).pop("Cmd", None)


def add_ports(cfg: dict[str, Any], ports: list[str]) -> None:
    exposed = dict(inner(cfg).get("ExposedPorts") or {})
    for p in ports:
        port, _, proto = p.partition("/")
        proto = (proto or "tcp").lower()
        if not port or not all(part.isdigit() for part in port.split("-")) or proto not in ("tcp", "udp", "sctp"):
            raise UsageError(f"invalid port in EXPOSE: {p!r}")
        exposed[f"{port}/{proto}"] = {}
    inner(cfg)["ExposedPorts"] = exposed


def add_volumes(cfg: dict[str, Any], paths: list[str]) -> None:
    vols = dict(inner(cfg).get("Volumes") or {})
    for p in paths:
        if not p:
            raise UsageError("VOLUME specified can not be an empty string")
        vols[p] = {}
    inner(cfg)["Volumes"] = vols


def set_workdir(cfg: dict[str, Any], path: str) -> str:
    cur = inner(cfg).get("WorkingDir") or "/"
    new = posixpath.normpath(posixpath.join(cur, path))
    inner(cfg)["WorkingDir"] = new
    return new


def _duration(value: str, flag: str) -> int:
    """Go duration (``30s``, ``1m30s``, ``500ms``) → nanoseconds."""
    import re

    units = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if not parts or "".join(a + b for a, b in parts) != value:
        raise UsageError(f"invalid duration for HEALTHCHECK {flag}: {value!r}")
    return int(sum(float(a) * units[b] for a, b in parts))


def set_healthcheck(cfg: dict[str, Any], args: str, json_form: list[str] | None, flags: dict[str, str],
                    shell: list[str]) -> None:
    words = args.split(None, 1)
    kind = words[0].upper() if words else ""
    if kind == "NONE":
        inner(cfg)["Healthcheck"] = {"Test": ["NONE"]}
        return
    if kind != "CMD":
        raise UsageError("HEALTHCHECK: unknown type, must be CMD or NONE")
    rest = words[1] if len(words) > 1 else ""
    import json

    try:
        exec_form = json.loads(rest) if rest.lstrip().startswith("[") else None
    except ValueError:
        exec_form = None
    test = ["CMD", *exec_form] if isinstance(exec_form, list) else ["CMD-SHELL", rest]
    hc: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod")):
        if flags.get(flag):
            hc[key] = _duration(flags[flag], "--" + flag)
    if flags.get("retries"):
        try:
            hc["Retries"] = int(flags["retries"])
        except ValueError:
            raise UsageError(f"invalid HEALTHCHECK --retries {flags['retries']!r}") from None
    inner(cfg)["Healthcheck"] = hc


def add_history(cfg: dict[str, Any], created: str, created_by: str, empty_layer: bool,
                comment: str = "") -> None:
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    cfg.setdefault("history", []).append(entry)

