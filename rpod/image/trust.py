"""The signature trust policy (``policy.json``, containers-policy.json(5)) that ``image trust``
sets and shows, and the registries.d lookaside (signature store) configuration it reports.

As Podman (pkg/trust): ``set`` rewrites the file with ``default`` and ``transports`` only
(``accept`` is written ``insecureAcceptAnything``; a scope goes under ``docker`` unless some
transport already names it); ``show`` lists the default first, then each transport's scopes
sorted (``docker`` shown as ``repository``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from rpod.errors import RpodError, UsageError

SYSTEM_POLICY = Path("/etc/containers/policy.json")
SYSTEM_REGISTRIES_D = Path("/etc/containers/registries.d")
TYPES = ("accept", "insecureAcceptAnything", "reject", "signedBy", "sigstoreSigned")
_DESCRIPTION = {"insecureAcceptAnything": "accept", "signedBy": "signed", "sigstoreSigned": "sigstoreSigned",
                "reject": "reject"}


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def default_policy_path() -> Path:
    """``$XDG_CONFIG_HOME/containers/policy.json`` when it exists, else the system's."""
    user = _config_home() / "containers" / "policy.json"
    return user if user.exists() else SYSTEM_POLICY


def registries_d_path() -> Path:
    """``~/.config/containers/registries.d`` when it exists, else the system's."""
    user = Path.home() / ".config" / "containers" / "registries.d"
    return user if user.is_dir() else SYSTEM_REGISTRIES_D


def check_scope(scope: str) -> None:
    """Podman's isValidImageURI: a registry, optionally with a port and a path."""
    if scope != "default" and not re.match(r"^[a-zA-Z0-9-_.]+/?:?[0-9]*[a-z0-9-/:]*$", scope.split("#")[0]):
        raise UsageError(f"invalid image uri: {scope}")


def _entries(trust_type: str, keys: list[str]) -> list[dict[str, Any]]:
    kind = "insecureAcceptAnything" if trust_type == "accept" else trust_type
    if kind in ("insecureAcceptAnything", "reject"):
        if keys:
            raise RpodError(f"{len(keys)} public keys unexpectedly provided for trust type {trust_type}")
        return [{"type": kind}]
    if kind in ("signedBy", "sigstoreSigned"):
        if not keys:
            raise RpodError(f"at least one public key must be defined for type '{kind}'")
        if kind == "signedBy":
            return [{"type": kind, "keyType": "GPGKeys", "keyPath": k} for k in keys]
        return [{"type": kind, "keyPath": k} for k in keys]
    raise RpodError(f'unknown trust type "{trust_type}"')


def add_policy_entries(policy_path: Path, scope: str, trust_type: str, keys: list[str]) -> None:
    """Set the requirements of ``scope`` (``default`` or a registry/repository) in the policy file."""
    new = _entries(trust_type, keys)
    doc: dict[str, Any] = {}
    if policy_path.exists():
        try:
            doc = json.loads(policy_path.read_text() or "null") or {}
        except ValueError:
            raise RpodError("could not read trust policies") from None
    default = doc.get("default")
    transports: dict[str, dict[str, Any]] = dict(doc.get("transports") or {})
    if scope == "default":
        default = new
    else:
        if not default:
            raise RpodError("default trust policy must be set")
        holder = next((t for t, repos in transports.items() if scope in (repos or {})), "docker")
        transports[holder] = {**(transports.get(holder) or {}), scope: new}
    out: dict[str, Any] = {"default": default}
    if transports:
        out["transports"] = {t: dict(sorted((repos or {}).items())) for t, repos in sorted(transports.items())}
    policy_path.write_text(json.dumps(out, indent=4))


def _registries_d(directory: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """(default-docker, docker namespaces) merged from ``*.yaml`` in registries.d."""
    import yaml

    default: dict[str, Any] | None = None
    spaces: dict[str, dict[str, Any]] = {}
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return None, {}
    for name in names:
        if not name.endswith(".yaml"):
            continue
        conf = yaml.safe_load((directory / name).read_text()) or {}
        if conf.get("default-docker") is not None:
            default = conf["default-docker"]
        spaces.update(conf.get("docker") or {})
    return default, spaces


def _namespace(default: dict[str, Any] | None, spaces: dict[str, dict[str, Any]], scope: str) -> dict[str, Any] | None:
    """The registries.d entry for ``scope``: the longest ``docker`` namespace that contains it, else
    ``default-docker``."""
    search = scope
    while search:
        if search in spaces:
            return spaces[search]
        if "/" not in search:
            break
        search = search.rsplit("/", 1)[0]
    return default


def registries_d_namespace(directory: Path, scope: str) -> dict[str, Any] | None:
    """The registries.d configuration (``lookaside``, ``sigstore``...) that applies to ``scope``."""
    return _namespace(*_registries_d(directory), scope)


def _lookaside(default: dict[str, Any] | None, spaces: dict[str, dict[str, Any]], scope: str) -> str:
    ns = _namespace(default, spaces, scope)
    if not ns:
        return ""
    return ns.get("lookaside") or ns.get("sigstore") or ""


def _gpg_ids(key_path: str) -> list[str]:
    """The user ids of a GPG public key file (``gpg2 --with-colons``), emails where given."""
    try:
        out = subprocess.run(["gpg2", "--with-colons", key_path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    ids = []
    for line in out.splitlines():
        if line.startswith(("uid:", "pub:")):
            fields = line.split(":")
            uid = fields[9] if len(fields) > 9 else ""
            if uid:
                ids.append(uid.split("<", 1)[1].split(">", 1)[0] if "<" in uid and ">" in uid else uid)
    return ids


def describe(policy_path: Path, registries_d: Path) -> list[dict[str, Any]]:
    """Podman's trust.Policy rows: transport, name, repo_name, type, gpg_id, sigstore."""
    try:
        doc = json.loads(policy_path.read_text())
    except OSError as e:
        raise RpodError(f"could not read trust policies: unable to read policy file: {e}") from None
    except ValueError as e:
        raise RpodError(f"could not read trust policies: could not parse trust policies from {policy_path}: {e}") from None
    default, spaces = _registries_d(registries_d)
    rows: list[dict[str, Any]] = []

    def add(reqs: list[dict[str, Any]], transport: str, name: str, repo: str, scope: str) -> None:
        store = _lookaside(default, spaces, scope)
        for req in reqs or []:
            kind = req.get("type", "")
            gpg = ""
            if kind == "signedBy":
                paths = ([req["keyPath"]] if req.get("keyPath") else []) + list(req.get("keyPaths") or [])
                gpg = ", ".join(uid for p in paths for uid in _gpg_ids(p))
            elif kind == "sigstoreSigned":
                gpg = "N/A"
            row = {"transport": transport, "name": name, "repo_name": repo, "sigstore": store,
                   "type": _DESCRIPTION.get(kind, ""), "gpg_id": gpg}
            rows.append({k: v for k, v in row.items() if v or k in ("transport", "type")})

    if doc.get("default"):
        add(doc["default"], "all", "* (default)", "default", "")
    for transport in sorted(doc.get("transports") or {}):
        shown = "repository" if transport == "docker" else transport
        for scope in sorted(doc["transports"][transport] or {}):
            add(doc["transports"][transport][scope], shown, scope, scope, scope)
    return rows
