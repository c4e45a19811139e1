"""``rpod search``: repositories of registries (``/v2/_catalog``) and tags of one (``--list-tags``).

As containers/image for registries other than Docker Hub: the catalog is read (following
``Link`` pages) and every repository whose name contains the term is a result, up to
``--limit`` per registry.  Without a registry in the term, every unqualified-search registry
of registries.conf is searched.  Filters (``stars``, ``is-official``, ``is-automated``) apply
to what a catalog cannot say: a catalog result has no stars and is neither official nor
automated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from rpod.errors import RegistryError, UsageError

DEFAULT_LIMIT = 25


@dataclass
class SearchOptions:
    limit: int = 0
    filters: dict[str, list[str]] = field(default_factory=dict)
    list_tags: bool = False
    tls_verify: bool | None = None
    creds: str | None = None
    authfile: str | None = None
    cert_dir: str | None = None


@dataclass
class SearchResult:
    Index: str
    Name: str
    Description: str = ""
    Stars: int = 0
    Official: str = ""
    Automated: str = ""
    Tag: str = ""


def _split(term: str) -> tuple[list[str], str]:
    from rpod.image.reference import looks_like_domain

    term = term.removeprefix("docker://")
    first, sep, rest = term.partition("/")
    if sep and looks_like_domain(first):
        return [first], rest
    from rpod.image.registries_conf import load_registries_config

    return list(load_registries_config().search_registries or ["docker.io"]), term


def _client(registry: str, opts: SearchOptions) -> Any:
    from rpod.image.push import PushOptions, client_for

    return client_for(registry, "", PushOptions(tls_verify=opts.tls_verify, creds=opts.creds, authfile=opts.authfile,
                                                cert_dir=opts.cert_dir))


def catalog(client: Any) -> list[str]:
    """Every repository the registry lists (all pages)."""
    url = "/v2/_catalog?n=1000"
    repos: list[str] = []
    seen: set[str] = set()
    while url and url not in seen:
        seen.add(url)
        with client.request("GET", url, extra_scopes=("registry:catalog:*",), what=client.registry) as resp:
            if resp.status_code != 200:
                raise client._status_error(resp, f"{client.registry}: catalog")
            repos += resp.json().get("repositories") or []
            nxt = resp.links.get("next", {}).get("url")
            url = urljoin(resp.url, nxt) if nxt else ""
    return repos


def _passes(filters: dict[str, list[str]]) -> bool:
    """Whether a catalog result (0 stars, not official, not automated) passes ``--filter``."""
    for key, values in filters.items():
        for v in values:
            if key == "stars":
                if not v.isdigit():
                    raise UsageError(f"incorrect value type for stars filter: {v!r}")
                if int(v) > 0:
                    return False
            elif key in ("is-official", "is-automated"):
                if v.lower() not in ("true", "false"):
                    raise UsageError(f"incorrect value type for {key} filter: {v!r}")
                if v.lower() == "true":
                    return False
            else:
                raise UsageError(f"invalid filter type {key!r}")
    return True


def search(term: str, opts: SearchOptions) -> list[SearchResult]:
    """Search results for ``term``, registry by registry."""
    registries, what = _split(term)
    limit = opts.limit or DEFAULT_LIMIT
    out: list[SearchResult] = []
    if opts.list_tags:
        if opts.filters:
            raise UsageError("filters are not applicable to list tags result")
        if len(registries) != 1 or not what:
            raise UsageError(f"reg/repo name {term!r} is required: --list-tags needs a fully qualified repository")
        repo = what.partition(":")[0]
        tags = _client(registries[0], opts).list_tags(repo)
        return [SearchResult(registries[0], f"{registries[0]}/{repo}", Tag=t) for t in tags[:limit]]
    errors = []
    for reg in registries:
        try:
            repos = catalog(_client(reg, opts))
        except RegistryError as e:
            errors.append(e)
            continue
        hits = [r for r in repos if what in r and _passes(opts.filters)]
        out += [SearchResult(reg, f"{reg}/{r}") for r in hits[:limit]]
    if errors and len(errors) == len(registries):
        raise errors[0]
    return out
