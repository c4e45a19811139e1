"""containers-registries.conf(5): search registries, short-name aliases, mirrors, insecure and blocked registries.

Files are read the way containers/image reads them:

* ``$XDG_CONFIG_HOME/containers/registries.conf`` (default ``~/.config``): when it exists it
  *replaces* the system file, and only the user's drop-in directory
  ``$XDG_CONFIG_HOME/containers/registries.conf.d`` is read with it;
* otherwise ``/etc/containers/registries.conf`` (or ``$CONTAINERS_REGISTRIES_CONF``), then the
  drop-ins ``/etc/containers/registries.conf.d/*.conf`` and then the user's drop-ins.

Drop-ins are applied in lexical order; a later file replaces ``unqualified-search-registries``
and ``short-name-mode`` when it sets them, adds or replaces ``[[registry]]`` entries by
prefix and merges ``[aliases]`` (an empty alias value removes the alias).  Debian's
``shortnames.conf`` drop-in provides the usual aliases.  The v1 format
(``[registries.search]``, ``[registries.insecure]``, ``[registries.block]``) is read too.

Short names: an alias wins; otherwise every unqualified-search registry is a candidate,
in order.  rpod never prompts: with several candidates it tries them in order (as
Podman's *permissive* mode does without a TTY) — even in *enforcing* mode, whose prompt
rpod does not implement.  When no search registry is configured at all (Debian's default
registries.conf is only comments) rpod falls back to ``docker.io``: deterministic, and
what most users expect from ``rpod pull alpine``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from rpod.errors import BlockedRegistry, ConfigError, InvalidReference, ShortNameError
from rpod.image.reference import DOCKER_HUB, DOMAIN_RE, Reference, parse_reference
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

SYSTEM_DIR = Path("/etc/containers")
DEFAULT_SEARCH_REGISTRY = DOCKER_HUB
SHORT_NAME_MODES = ("enforcing", "permissive", "disabled")
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")


@record(frozen=True)
class Endpoint:
    """One place to pull from: a mirror or the registry's own location."""

    location: str  # host[:port][/namespace] — a prefix replaced into the reference
    insecure: bool = False
    pull_from_mirror: str = "all"  # only meaningful for mirrors


@record
class RegistryEntry:
    """One ``[[registry]]`` table (or the implicit default for an unconfigured registry)."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirrors: list[Endpoint] = field(default_factory=list)
    origin: str = ""  # the file that defined it ("" for the implicit default)

    @property
    def is_wildcard(self) -> bool:
        return self.prefix.startswith("*.")


@record(frozen=True)
class PullSource:
    """A rewritten reference to try, with whether its endpoint is insecure."""

    reference: Reference
    insecure: bool
    mirror: bool


@record
class RegistriesConfig:
    """The merged configuration; build it with :func:`load_registries_config`."""

    search_registries: list[str] = field(default_factory=list)
    search_origin: str = ""
    short_name_mode: str = "enforcing"
    aliases: dict[str, str] = field(default_factory=dict)
    alias_origins: dict[str, str] = field(default_factory=dict)
    registries: list[RegistryEntry] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    # ----------------------------------------------------------------- short names
    def resolve_short_name(self, name: str) -> list[Reference]:
        """Candidate full references for ``name``, in the order to try them.

        A qualified name is returned as is.  An alias yields one candidate; otherwise
        one per search registry (``docker.io`` when none is configured).
        """
        ref = parse_reference(name)
        if not ref.is_short:
            return [ref]
        alias = self.aliases.get(ref.repository)
        if alias:
            target = parse_reference(alias)
            return [Reference(target.registry, target.repository, ref.tag, ref.digest)]
        registries = self.search_registries or [DEFAULT_SEARCH_REGISTRY]
        return [ref.qualified(reg) for reg in registries]

    def resolve_one(self, name: str) -> Reference:
        """The first candidate of :meth:`resolve_short_name` (for naming, not pulling)."""
        candidates = self.resolve_short_name(name)
        if not candidates:  # pragma: no cover - resolve_short_name always yields one
            raise ShortNameError(f"short name {name!r} did not resolve to any registry")
        return candidates[0]

    # ----------------------------------------------------------------- [[registry]]
    def lookup(self, reference: Reference | str) -> RegistryEntry:
        """The registry entry for ``reference``: longest matching prefix, location rewritten.

        The returned entry's ``location`` and mirror locations are already rewritten for this
        reference's name (prefix replaced), so ``location`` is ``host[:port]/path`` of the image.
        """
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        if ref.is_short:
            raise ShortNameError(
                f"{ref}: short name has no registry", hint="resolve it with resolve_short_name() first"
            )
        name = ref.name
        best: RegistryEntry | None = None
        best_len = -1
        for entry in self.registries:
            n = _match_length(name, entry.prefix)
            if n > best_len:
                best, best_len = entry, n
        if best is None:
            return RegistryEntry(prefix=ref.registry, location=name)
        if best.is_wildcard:
            location = name
            mirrors = list(best.mirrors)
            mirrors = [
                Endpoint(m.location + name[len(ref.registry) :], m.insecure, m.pull_from_mirror)
                for m in mirrors
            ]
        else:
            suffix = name[len(best.prefix) :]
            location = best.location + suffix
            mirrors = [Endpoint(m.location + suffix, m.insecure, m.pull_from_mirror) for m in best.mirrors]
        return RegistryEntry(
            prefix=best.prefix,
            location=location,
            insecure=best.insecure,
            blocked=best.blocked,
            mirror_by_digest_only=best.mirror_by_digest_only,
            mirrors=mirrors,
            origin=best.origin,
        )

    def is_insecure(self, host: str) -> bool:
        """Whether registries.conf marks ``host`` (a registry host[:port]) insecure."""
        return self.lookup(Reference(host, "x")).insecure

    def pull_sources(self, reference: Reference) -> list[PullSource]:
        """Where to pull ``reference`` from: mirrors first (filtered by pull-from-mirror), then the registry.

        Raises :class:`BlockedRegistry` when registries.conf blocks it.
        """
        entry = self.lookup(reference)
        if entry.blocked:
            raise BlockedRegistry(
                f"registry {reference.registry} is blocked in registries.conf ({entry.origin or 'configuration'})",
                hint=f"remove 'blocked = true' for prefix {entry.prefix!r} to pull {reference}",
            )
        by_digest = reference.digest is not None
        out: list[PullSource] = []
        for m in entry.mirrors:
            mode = m.pull_from_mirror
            if entry.mirror_by_digest_only and mode == "all":
                mode = "digest-only"
            if (mode == "digest-only" and not by_digest) or (mode == "tag-only" and by_digest):
                continue
            out.append(PullSource(_relocate(reference, m.location), m.insecure, True))
        out.append(PullSource(_relocate(reference, entry.location), entry.insecure, False))
        return out


def _relocate(ref: Reference, location: str) -> Reference:
    registry, _, repository = location.partition("/")
    return Reference(registry, repository, ref.tag, ref.digest)


def _match_length(name: str, prefix: str) -> int:
    """Length of ``prefix`` when it matches ``name`` (containers/image rules), else -1."""
    if prefix.startswith("*."):
        host = name.partition("/")[0]
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname.endswith(prefix[1:]) or host.endswith(prefix[1:]):
            return len(prefix)
        return -1
    if name == prefix:
        return len(prefix)
    if name.startswith(prefix) and name[len(prefix)] in ":/@":
        return len(prefix)
    return -1


# --------------------------------------------------------------------------- loading
@record
class _FileConf:
    search: list[str] | None = None
    mode: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    registries: list[RegistryEntry] = field(default_factory=list)


def _bool(path: Path, table: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {table}.{key} must be true or false, not {value!r}")
    return value


def _str(path: Path, table: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {table}.{key} must be a string, not {value!r}")
    return value


def _check_location(path: Path, what: str, location: str) -> str:
    if "://" in location:
        raise ConfigError(f"{path}: {what} {location!r} must not contain a scheme ('://')")
    host = location.partition("/")[0]
    if location and not DOMAIN_RE.fullmatch(host):
        raise ConfigError(f"{path}: {what} {location!r} does not start with a valid host[:port]")
    return location.rstrip("/")


def _parse_registry(path: Path, table: dict[str, Any]) -> RegistryEntry:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: every [[registry]] entry must be a table")
    known = {"prefix", "location", "insecure", "blocked", "mirror", "mirror-by-digest-only"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [[registry]]: {', '.join(sorted(unknown))}")
    prefix = _str(path, "registry", "prefix", table.get("prefix", ""))
    location = _check_location(
        path, "registry location", _str(path, "registry", "location", table.get("location", ""))
    )
    if prefix.startswith("*."):
        if "/" in prefix or not DOMAIN_RE.fullmatch(prefix[2:]):
            raise ConfigError(f"{path}: wildcard prefix {prefix!r} must be '*.domain' without a path")
        if location:
            raise ConfigError(f"{path}: registry with wildcard prefix {prefix!r} cannot set a location")
    elif "*" in prefix:
        raise ConfigError(f"{path}: invalid prefix {prefix!r}: '*' is only allowed as '*.domain'")
    if not prefix:
        if not location:
            raise ConfigError(f"{path}: a [[registry]] entry needs a prefix or a location")
        prefix = location
    elif not prefix.startswith("*."):
        prefix = _check_location(path, "registry prefix", prefix)
        location = location or prefix
    mirrors = []
    raw_mirrors = table.get("mirror", [])
    if not isinstance(raw_mirrors, list):
        raise ConfigError(
            f"{path}: registry {prefix!r}: 'mirror' must be an array of tables ([[registry.mirror]])"
        )
    for m in raw_mirrors:
        if not isinstance(m, dict) or "location" not in m:
            raise ConfigError(f"{path}: registry {prefix!r}: every [[registry.mirror]] needs a location")
        mode = _str(path, "registry.mirror", "pull-from-mirror", m.get("pull-from-mirror", "all") or "all")
        if mode not in PULL_FROM_MIRROR:
            raise ConfigError(
                f"{path}: registry {prefix!r}: pull-from-mirror must be one of {', '.join(PULL_FROM_MIRROR)}, not {mode!r}"
            )
        mirrors.append(
            Endpoint(
                _check_location(
                    path, "mirror location", _str(path, "registry.mirror", "location", m["location"])
                ),
                _bool(path, "registry.mirror", "insecure", m.get("insecure", False)),
                mode,
            )
        )
    return RegistryEntry(
        prefix=prefix,
        location=location,
        insecure=_bool(path, "registry", "insecure", table.get("insecure", False)),
        blocked=_bool(path, "registry", "blocked", table.get("blocked", False)),
        mirror_by_digest_only=_bool(
            path, "registry", "mirror-by-digest-only", table.get("mirror-by-digest-only", False)
        ),
        mirrors=mirrors,
        origin=str(path),
    )


def _parse_aliases(path: Path, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: [aliases] must be a table of "short-name" = "registry/repository"')
    out = {}
    for key, value in table.items():
        value = _str(path, "aliases", key, value)
        try:
            k = parse_reference(key)
        except InvalidReference as e:
            raise ConfigError(f"{path}: alias {key!r}: {e.message}") from e
        if not k.is_short or k.tag or k.digest:
            raise ConfigError(f"{path}: alias {key!r} must be a short name without registry, tag or digest")
        if value:
            try:
                v = parse_reference(value)
            except InvalidReference as e:
                raise ConfigError(f"{path}: alias {key!r} = {value!r}: {e.message}") from e
            if v.is_short or v.tag or v.digest:
                raise ConfigError(
                    f"{path}: alias {key!r} = {value!r} must be a fully qualified name (registry/repository) "
                    "without tag or digest"
                )
            value = v.name
        out[key] = value
    return out


def _parse_file(path: Path) -> _FileConf:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}", hint="fix or remove the file") from e
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    conf = _FileConf()
    if "unqualified-search-registries" in data:
        regs = data["unqualified-search-registries"]
        if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
            raise ConfigError(f"{path}: unqualified-search-registries must be an array of strings")
        for r in regs:
            if not DOMAIN_RE.fullmatch(r):
                raise ConfigError(
                    f"{path}: unqualified-search-registries: {r!r} is not a registry host[:port]"
                )
        conf.search = list(regs)
    if "short-name-mode" in data:
        mode = _str(path, "", "short-name-mode", data["short-name-mode"])
        if mode and mode not in SHORT_NAME_MODES:
            raise ConfigError(
                f"{path}: short-name-mode must be one of {', '.join(SHORT_NAME_MODES)}, not {mode!r}"
            )
        conf.mode = mode or None
    if "aliases" in data:
        conf.aliases = _parse_aliases(path, data["aliases"])
    regs_v2 = data.get("registry", [])
    if not isinstance(regs_v2, list):
        raise ConfigError(f"{path}: 'registry' must be an array of tables ([[registry]])")
    conf.registries = [_parse_registry(path, t) for t in regs_v2]
    v1 = data.get("registries")
    if v1 is not None:
        _merge_v1(path, v1, conf)
    return conf


def _merge_v1(path: Path, v1: Any, conf: _FileConf) -> None:
    """The deprecated v1 format: ``[registries.search|insecure|block] registries = [...]``."""
    if not isinstance(v1, dict):
        raise ConfigError(f"{path}: [registries] must be a table (v1 format)")
    if conf.registries:
        raise ConfigError(
            f"{path}: mixes the v1 [registries.*] tables with v2 [[registry]] entries; use one format"
        )

    def hosts(kind: str) -> list[str]:
        regs = v1.get(kind, {}).get("registries", [])
        if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
            raise ConfigError(f"{path}: registries.{kind}.registries must be an array of strings")
        return regs

    if "search" in v1:
        conf.search = hosts("search")
    entries: dict[str, RegistryEntry] = {}
    for kind in ("insecure", "block"):
        for host in hosts(kind):
            e = entries.setdefault(host, RegistryEntry(prefix=host, location=host, origin=str(path)))
            if kind == "insecure":
                e.insecure = True
            else:
                e.blocked = True
    conf.registries = list(entries.values())


def _drop_ins(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".conf" and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        raise ConfigError(f"cannot list {directory}: {e.strerror}") from e


def config_files(config_home: Path | None = None, system_dir: Path | None = None) -> list[Path]:
    """The registries.conf files that apply, in the order they are merged."""
    if config_home is None:
        from rpod.paths import config_home as default_config_home

        config_home = default_config_home()
    user_dir = config_home / "containers"
    user_file = user_dir / "registries.conf"
    user_dropins = _drop_ins(user_dir / "registries.conf.d")
    if user_file.is_file():
        return [user_file, *user_dropins]
    if system_dir is None:
        env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
        system_file = Path(env) if env else SYSTEM_DIR / "registries.conf"
        system_dir = SYSTEM_DIR
    else:
        system_file = system_dir / "registries.conf"
    files = [system_file] if system_file.is_file() else []
    return files + _drop_ins(system_dir / "registries.conf.d") + user_dropins


def load_registries_config(
    config_home: Path | None = None, system_dir: Path | None = None
) -> RegistriesConfig:
    """Read and merge registries.conf and its drop-ins (see the module docstring for the order).

    ``config_home`` defaults to ``$XDG_CONFIG_HOME`` (``~/.config``), ``system_dir`` to
    ``/etc/containers``; tests point both at temporary directories.
    """
    cfg = RegistriesConfig()
    by_prefix: dict[str, RegistryEntry] = {}
    for path in config_files(config_home, system_dir):
        conf = _parse_file(path)
        cfg.files.append(path)
        if conf.search is not None:
            cfg.search_registries = conf.search
            cfg.search_origin = str(path)
        if conf.mode is not None:
            cfg.short_name_mode = conf.mode
        for key, value in conf.aliases.items():
            if value:
                cfg.aliases[key] = value
                cfg.alias_origins[key] = str(path)
            else:
                cfg.aliases.pop(key, None)
                cfg.alias_origins.pop(key, None)
        for entry in conf.registries:
            by_prefix[entry.prefix] = entry
    cfg.registries = list(by_prefix.values())
    return cfg
