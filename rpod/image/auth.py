"""Registry credentials in containers-auth.json(5) files (and Docker's config files).

Read order (the first file with a matching entry wins; inside a file the most specific key
wins: ``host/ns/repo``, then ``host/ns``, then ``host``):

1. ``--authfile`` or ``$REGISTRY_AUTH_FILE`` — when given, *only* that file is read (Podman);
2. ``$XDG_RUNTIME_DIR/containers/auth.json`` (the primary file ``rpod login`` writes);
3. ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config``);
4. ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``;
5. ``~/.dockercfg`` (legacy format: the top level is the ``auths`` map).

Keys may be written as URLs (``https://index.docker.io/v1/``); they are normalised to
``host[/path]`` and every Docker Hub spelling becomes ``docker.io``.  An entry holds
``auth`` (base64 ``user:password``) and/or ``identitytoken`` (an OAuth2 refresh token).
A ``credHelpers`` map (registry host → helper) sends the lookup to ``docker-credential-HELPER get``
first; ``credsStore`` is ignored, as containers/image does.  rpod only reads helpers: ``rpod login``
always writes the file.

``rpod login`` stores into the primary file; when ``XDG_RUNTIME_DIR`` is unset or not a
directory the user owns (``su``, cron, CI) it stores into ``$XDG_CONFIG_HOME/containers/auth.json``
instead, which persists across reboots — Podman would use ``/run/containers/$UID``, which an
unprivileged user usually cannot create.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpod.errors import ConfigError, UsageError
from rpod.paths import config_home, owned_dir

DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    """A username/password (or identity token) for one registry."""

    username: str
    password: str
    identity_token: str | None = None
    source: Path | None = None  # the file they came from, if any

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def primary_auth_file() -> Path:
    """Where ``rpod login`` writes: ``$XDG_RUNTIME_DIR/containers/auth.json`` or the config-home fallback."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and owned_dir(Path(xdg)):
        return Path(xdg) / "containers" / "auth.json"
    return config_home() / "containers" / "auth.json"


def _user_authfile(authfile: str | Path | None) -> Path | None:
    if authfile:
        return Path(authfile)
    env = os.environ.get("REGISTRY_AUTH_FILE")
    return Path(env) if env else None


def auth_file_paths(authfile: str | Path | None = None) -> list[tuple[Path, bool]]:
    """``(path, legacy_format)`` in read order; see the module docstring."""
    explicit = _user_authfile(authfile)
    if explicit is not None:
        return [(explicit, False)]
    out: list[tuple[Path, bool]] = []
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        out.append((Path(xdg) / "containers" / "auth.json", False))
    out.append((config_home() / "containers" / "auth.json", False))
    docker_config = os.environ.get("DOCKER_CONFIG")
    out.append(((Path(docker_config) if docker_config else Path.home() / ".docker") / "config.json", False))
    out.append((Path.home() / ".dockercfg", True))
    return out


def normalize_key(key: str, legacy: bool = False) -> str:
    """An auth-file key as ``host[/path]``: scheme stripped, URL paths dropped, Docker Hub → ``docker.io``."""
    stripped = key.removeprefix("http://").removeprefix("https://")
    if legacy or stripped != key:
        stripped = stripped.split("/", 1)[0]
    host, sep, rest = stripped.partition("/")
    if host in DOCKER_HUB_KEYS:
        host = "docker.io"
    return host + sep + rest.rstrip("/")


def lookup_keys(registry: str, repository: str | None = None) -> list[str]:
    """Keys to try for an image, most specific first: ``reg/a/b``, ``reg/a``, ``reg``."""
    registry = normalize_key(registry)
    keys = [registry]
    if repository:
        parts = repository.split("/")
        keys = [f"{registry}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)] + keys
    return keys


def _read(path: Path, legacy: bool) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The normalised ``auths`` and ``credHelpers`` maps of one file (empty when missing)."""
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}, {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read credentials file {path}: {e}", hint="fix or remove the file") from e
    if not isinstance(data, dict):
        raise ConfigError(f"credentials file {path} is not a JSON object")
    auths = data if legacy else data.get("auths", {})
    if not isinstance(auths, dict):
        raise ConfigError(f"credentials file {path}: 'auths' is not a JSON object")
    out: dict[str, dict[str, Any]] = {}
    for key, entry in auths.items():
        if isinstance(entry, dict):
            out.setdefault(normalize_key(key, legacy), entry)
    helpers = {} if legacy else data.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise ConfigError(f"credentials file {path}: 'credHelpers' is not a JSON object")
    return out, {normalize_key(k): v for k, v in helpers.items() if isinstance(v, str) and v}


def _from_helper(path: Path, helper: str, registry: str) -> Credentials | None:
    """Ask ``docker-credential-HELPER get`` (named in ``credHelpers`` of ``path``) for ``registry``."""
    import shutil
    import subprocess

    program = f"docker-credential-{helper}"
    exe = shutil.which(program)
    if exe is None:
        raise ConfigError(
            f"credential helper {program} (credHelpers of {path}) is not installed",
            hint=f"install it or remove the {registry!r} entry from credHelpers",
        )
    try:
        proc = subprocess.run(
            [exe, "get"], input=registry.encode(), capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"credential helper {program} failed for {registry}: {e}") from e
    if proc.returncode != 0:
        message = (proc.stdout or proc.stderr).decode(errors="replace").strip()
        if "credentials not found" in message.lower():
            return None
        raise ConfigError(f"credential helper {program} failed for {registry}: {message or proc.returncode}")
    try:
        doc = json.loads(proc.stdout)
        username, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
    except (ValueError, AttributeError) as e:
        raise ConfigError(f"credential helper {program} sent invalid JSON for {registry}") from e
    if username == "<token>":  # Docker's convention for an identity token
        return Credentials("", "", secret, path)
    return Credentials(username, secret, None, path)


def _decode(path: Path, key: str, entry: dict[str, Any]) -> Credentials | None:
    token = entry.get("identitytoken") or None
    raw = entry.get("auth") or ""
    if not raw and not token:
        return None
    username = password = ""
    if raw:
        try:
            decoded = base64.b64decode(raw, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ConfigError(f"credentials file {path}: entry {key!r} has an invalid 'auth' value") from e
        username, sep, password = decoded.partition(":")
        if not sep:
            raise ConfigError(
                f"credentials file {path}: entry {key!r}: 'auth' is not base64 of user:password"
            )
    return Credentials(username, password, token, path)


def credentials_for(
    registry: str, repository: str | None = None, authfile: str | Path | None = None
) -> Credentials | None:
    """The stored credentials for ``registry`` (and ``repository``), or None."""
    keys = lookup_keys(registry, repository)
    for path, legacy in auth_file_paths(authfile):
        auths, helpers = _read(path, legacy)
        host = keys[-1]
        if host in helpers:  # credHelpers (per registry host) come first, as in containers/image
            creds = _from_helper(path, helpers[host], host)
            if creds is not None:
                return creds
        for key in keys:
            entry = auths.get(key)
            if entry is not None:
                creds = _decode(path, key, entry)
                if creds is not None:
                    return creds
    return None


def _write_file(authfile: str | Path | None) -> Path:
    return _user_authfile(authfile) or primary_auth_file()


def _load_for_update(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"auths": {}}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read credentials file {path}: {e}", hint="fix or remove the file") from e
    if not isinstance(data, dict):
        raise ConfigError(f"credentials file {path} is not a JSON object")
    if not isinstance(data.setdefault("auths", {}), dict):
        raise ConfigError(f"credentials file {path}: 'auths' is not a JSON object")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    from rpod.storefile import atomic_write

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(data, indent="\t") + "\n").encode(), mode=0o600)
    except OSError as e:
        raise ConfigError(f"cannot write credentials file {path}: {e.strerror}") from e


def _entry_key(registry: str) -> str:
    key = normalize_key(registry)
    if not key or key.startswith("/"):
        raise UsageError(f"invalid registry {registry!r}")
    return key


def store_credentials(
    registry: str, username: str, password: str, authfile: str | Path | None = None
) -> Path:
    """Save ``username``/``password`` for ``registry`` (``host[:port][/namespace]``); return the file written.

    Other entries in the file are kept; the file is replaced atomically with mode 0600.
    """
    key = _entry_key(registry)
    path = _write_file(authfile)
    data = _load_for_update(path)
    auths = data["auths"]
    for k in [k for k in auths if k != key and normalize_key(k) == key]:
        del auths[k]  # another spelling of the same key (https://index.docker.io/v1/, ...)
    auths[key] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    _save(path, data)
    return path


def remove_credentials(registry: str | None, authfile: str | Path | None = None, all: bool = False) -> bool:
    """Remove the entry for ``registry`` (or every entry with ``all``); True when something was removed."""
    path = _write_file(authfile)
    data = _load_for_update(path)
    auths = data["auths"]
    if all:
        removed = bool(auths)
        data["auths"] = {}
    else:
        if not registry:
            raise UsageError("give a registry or --all")
        key = _entry_key(registry)
        victims = [k for k in auths if normalize_key(k) == key]
        for k in victims:
            del auths[k]
        removed = bool(victims)
    if removed:
        _save(path, data)
    return removed


def parse_creds(value: str) -> Credentials:
    """Parse ``--creds USER[:PASSWORD]``; the password is ``""`` when not given (the CLI may prompt)."""
    username, _, password = value.partition(":")
    if not username:
        raise UsageError(f"invalid --creds {value!r}: expected USERNAME[:PASSWORD]")
    return Credentials(username, password)
