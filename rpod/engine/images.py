"""Images: pull, list, inspect, remove, tag, untag, prune, exists; registry login/logout.

Removing an image's containers (``rmi -f``) is done here: the image domain never touches containers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rpod.engine.progress import make_progress
from rpod.engine.types import paths_or_default
from rpod.errors import NoSuchImage, RpodError, UsageError
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from rpod.engine.images_options import InspectReport, PruneReport, PullOptions, RemoveOptions
    from rpod.engine.items import ItemReport
    from rpod.paths import Paths
    from rpod.progress import PullProgress


__all__ = ["make_progress"]
_OPTIONS = ("PullOptions", "InspectReport", "RemoveOptions", "PruneReport")


def __getattr__(name: str) -> object:
    """The verbs' option and report classes, made on first use (``images_options``)."""
    if name in _OPTIONS:
        from rpod.engine import images_options

        return getattr(images_options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _store(p: Paths) -> Any:
    from rpod.image.store import ImageStore

    return ImageStore(p)


def containers_by_image(paths: Paths) -> dict[str, list[str]]:
    """Image id → names of the containers created from it."""
    from rpod.engine.containers import container_store

    out: dict[str, list[str]] = {}
    for rec in container_store(paths).list():
        if rec.image_id:
            out.setdefault(rec.image_id, []).append(rec.name)
    return out


def resolve(p: Paths, name: str) -> Any:
    """The local image a user-given name or id stands for (short names through registries.conf,
    read only when neither the id nor the name itself is in the store)."""

    def candidates() -> list[str]:
        from rpod.image.pull import local_candidates

        return local_candidates(name)

    return _store(p).resolve(name, candidates)


# ----------------------------------------------------------------------------------------- pull
def pull(opts: PullOptions, progress: PullProgress | None = None, paths: Paths | None = None) -> Iterator[str]:
    """Pull each name (every tag of a repository with ``all_tags``); yields the image ids as they land."""
    from rpod.image.pull import Puller, parse_platform
    from rpod.image.pull import PullOptions as DomainPullOptions

    domain = DomainPullOptions(tls_verify=opts.tls_verify, creds=opts.creds, authfile=opts.authfile,
                               cert_dir=opts.cert_dir)
    if opts.platform:
        domain.os, domain.arch, domain.variant = parse_platform(opts.platform)
    domain.arch = opts.arch or domain.arch
    domain.os = opts.os or domain.os
    domain.variant = opts.variant or domain.variant
    puller = Puller(paths_or_default(paths), domain, progress)
    for name in opts.names:
        if opts.all_tags:
            for rec in _pull_all_tags(puller, name):
                yield rec.id
            continue
        yield puller.pull(name).id


def _pull_all_tags(puller: Any, name: str) -> list[Any]:
    from rpod.image.pull import candidates

    ref = candidates(name)[0]
    if ref.tag and ref.tag != "latest" and ":" in name.rsplit("/", 1)[-1] or ref.digest:
        raise UsageError("--all-tags takes a repository without a tag or digest")
    client, repo = puller.client_for(ref)
    return [puller.pull(f"{ref.name}:{tag}") for tag in client.list_tags(repo)]


# ----------------------------------------------------------------------------------------- list
@record
class ListOptions:
    """``images``: filters (``reference=`` for a REPOSITORY argument), order, id length."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "created"
    all: bool = False  # -a: also the intermediate images of builds (one per cached step)
    no_trunc: bool = False
    containers: bool = False  # count each image's containers (reads the container store)


_SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "created": lambda r: -_created(r[1]),
    "id": lambda r: r[1].id,
    "repository": lambda r: (r[0].Repository, r[0].Tag),
    "tag": lambda r: r[0].Tag,
    "size": lambda r: r[1].size,
}


def _created(rec: Any) -> float:
    from rpod.humanize import parse_time

    return parse_time(rec.created) or rec.pulled_at


def list_images(opts: ListOptions, paths: Paths | None = None) -> list[tuple[Any, Any]]:
    """(row, record) pairs, one row per name (``<none>`` for an untagged image), sorted."""
    from rpod.engine import filters as flt
    from rpod.image.reports import image_rows

    p = paths_or_default(paths)
    if opts.sort not in _SORT_KEYS:
        raise UsageError(f"invalid sort field {opts.sort!r}: use created, id, repository, size or tag")
    store = _store(p)
    records = store.list()
    if not opts.all and any(not r.names for r in records):  # intermediate images have no name
        from rpod.build.cache import BuildCache

        hidden = BuildCache(p).intermediate_ids()
        records = [r for r in records if r.names or r.id not in hidden]
    if opts.filters:
        def labels(rec: Any) -> dict[str, str]:
            return (store.config(rec).get("config") or {}).get("Labels") or {}

        def created_of(ref: str) -> float:
            from rpod.humanize import parse_time

            return parse_time(store.resolve(ref).created)

        records = [r for r in records
                   if flt.image(r, opts.filters, lambda r=r: labels(r), created_of)]
    if not opts.filters and (p.root / "manifest-lists.json").exists():  # lists show as images, as Podman
        from rpod.image.manifests import as_records

        records = [*records, *as_records(p)]
    used = {k: len(v) for k, v in containers_by_image(p).items()} if opts.containers else {}
    rows = image_rows(store, records, no_trunc=opts.no_trunc, containers_by_image=used)
    if opts.filters.get("reference"):  # only the rows of the names that matched
        rows = [(row, rec) for row, rec in rows if not rec.names
                or flt.reference_names([f"{row.Repository}:{row.Tag}"], opts.filters["reference"])]
    rows.sort(key=_SORT_KEYS[opts.sort])
    return rows


def image_json(row: Any, rec: Any) -> dict[str, Any]:
    """Podman's ``images --format json`` object of one image."""
    import time

    from rpod.humanize import parse_time

    return row.to_json(rec, parse_time(rec.created) or time.time())


# -------------------------------------------------------------------------------------- inspect
def inspect(names: list[str], paths: Paths | None = None) -> InspectReport:
    """``image inspect`` of each name."""
    from rpod.engine.images_options import InspectReport
    from rpod.image.reports import image_struct, inspect_image

    p = paths_or_default(paths)
    store = _store(p)
    report = InspectReport()
    for name in names:
        try:
            doc = inspect_image(store, resolve(p, name))
        except NoSuchImage as e:
            report.errors.append(e)
            continue
        report.docs.append(doc)
        report.structs.append(image_struct(doc))
    return report


def exists(name: str, paths: Paths | None = None) -> bool:
    """Whether the image is in local storage."""
    try:
        resolve(paths_or_default(paths), name)
    except NoSuchImage:
        return False
    return True


# --------------------------------------------------------------------------------------- remove
def remove(opts: RemoveOptions, paths: Paths | None = None) -> list[ItemReport]:
    """Untag or delete each image (``force``: also one in use, removing its containers first).
    Text lines are Podman's ``Untagged: NAME`` / ``Deleted: ID``; exit codes 1 missing, 2 in use."""
    from rpod.engine.containers import container_store, remove_records
    from rpod.engine.items import ItemReport
    from rpod.image.manage import remove_images
    from rpod.image.pull import local_candidates

    p = paths_or_default(paths)
    names = [r.id for r in _store(p).list()] if opts.all else list(opts.names)
    if opts.all and (p.root / "manifest-lists.json").exists():
        from rpod.image.manifests import as_records

        names += [r.id for r in as_records(p)]
    if not names and not opts.all:
        raise UsageError("image name or ID must be specified")

    def remove_users(users: list[str]) -> None:
        cstore = container_store(p)
        remove_records(p, [cstore.get(n) for n in users])

    reports = []
    for name in names:
        try:
            done = remove_images(p, [name], force=opts.force, candidates_of=local_candidates,
                                 users=containers_by_image(p), remove_users=remove_users)
        except NoSuchImage as e:
            gone = _remove_list(p, name)  # a manifest list is an image to rmi, as in Podman
            if gone is not None:
                reports.append(gone)
                continue
            if opts.ignore or opts.force:  # Podman: --force ignores missing images too
                continue
            e.exit_code = 1
            reports.append(ItemReport(name, error=e))
            continue
        except RpodError as e:
            e.exit_code = 2
            reports.append(ItemReport(name, error=e))
            continue
        text = [f"Untagged: {n}" for n in done.untagged] + [f"Deleted: {d}" for d in done.deleted]
        reports.append(ItemReport(name, done.deleted[0] if done.deleted else "", text=text))
    return reports


def _remove_list(p: Paths, name: str) -> ItemReport | None:
    from rpod.engine.items import ItemReport
    from rpod.image import manifests

    if not (p.root / "manifest-lists.json").exists() or manifests.find(p, name) is None:
        return None
    gone = manifests.remove_lists(p, [name])
    text = [f"Untagged: {n}" for m in gone for n in m.names] + [f"Deleted: {m.id}" for m in gone]
    return ItemReport(name, gone[0].id if gone else "", text=text)


def tag(image: str, targets: list[str], paths: Paths | None = None) -> None:
    """Add names to a local image (``myimg`` → ``localhost/myimg:latest``)."""
    from rpod.image.manage import normalize_tag

    p = paths_or_default(paths)
    rec = resolve(p, image)
    store = _store(p)
    from rpod.events import record

    for t in targets:
        store.add_name(rec.id, normalize_tag(t))
        record(p, "image", "tag", id=rec.id, name=t)  # the name as given, as Podman's event shows it


def untag(image: str, names: list[str], paths: Paths | None = None) -> None:
    """Remove names from a local image (all of them when ``names`` is empty)."""
    from rpod.events import record
    from rpod.image.manage import normalize_tag

    p = paths_or_default(paths)
    rec = resolve(p, image)
    store = _store(p)
    if not names:
        store.remove_name(rec.id, None)
        for n in rec.names:
            record(p, "image", "untag", id=rec.id, name=n)
        return
    for n in names:
        full = n if n in rec.names else normalize_tag(n)
        if full not in rec.names:
            full = next((x for x in rec.names if x.endswith("/" + n) or x.endswith("/" + n + ":latest")), full)
        store.remove_name(rec.id, full)
        record(p, "image", "untag", id=rec.id, name=full)


def completion_words(paths: Paths | None = None) -> list[str]:
    """Names (with and without registry) and short ids of local images, for shell completion."""
    words: list[str] = []
    for r in _store(paths_or_default(paths)).list():
        for n in r.names:
            words += [n, n.split("/", 1)[-1] if "/" in n else n]
        words.append(r.short_id)
    return list(dict.fromkeys(words))


# ---------------------------------------------------------------------------------------- prune
def prune(all_: bool = False, filters: dict[str, list[str]] | None = None,
          paths: Paths | None = None) -> list[PruneReport]:
    """Delete images no container uses: dangling ones (untagged), or every unused one with ``all_``;
    then the layers and blobs no image refers to."""
    from rpod.engine import filters as flt
    from rpod.engine.images_options import PruneReport
    from rpod.humanize import parse_time
    from rpod.image.manage import cleanup_unused

    p = paths_or_default(paths)
    store = _store(p)
    used = containers_by_image(p)
    records = store.list()
    if filters:
        records = [r for r in records if flt.image(
            r, filters, lambda r=r: (store.config(r).get("config") or {}).get("Labels") or {},
            lambda ref: parse_time(store.resolve(ref).created))]
    doomed = [r for r in records if r.id not in used and (all_ or not r.names)]
    for r in doomed:
        store.delete(r.id)
    from rpod.engine.containers import container_store

    container_store(p).reclaim()  # container directories and removals killed commands left
    cleanup_unused(p)
    return [PruneReport(r.id, int(r.size or 0)) for r in doomed]


# ------------------------------------------------------------------------------------ registries
def _registry_host(value: str) -> str:
    host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def login_registry(registry: str | None) -> str:
    """The registry ``login``/``logout`` act on: the one given, else the first unqualified-search one."""
    if registry:
        return _registry_host(registry)
    from rpod.image.registries_conf import load_registries_config

    search = load_registries_config().search_registries
    if not search:
        raise UsageError("no registries found in registries.conf, a registry must be provided")
    return _registry_host(search[0])


def login_user(host: str, authfile: str | None = None) -> str:
    """The user name stored for ``host`` (``login --get-login``)."""
    from rpod.errors import RegistryAuthError
    from rpod.image.auth import credentials_for

    creds = credentials_for(host, authfile=authfile)
    if creds is None:
        raise RegistryAuthError(f"not logged into {host}")
    return creds.username


def login(host: str, username: str, password: str, *, authfile: str | None = None,
          tls_verify: bool | None = None, cert_dir: str | None = None) -> None:
    """Check the credentials against the registry, then store them."""
    from rpod.image.auth import Credentials, store_credentials
    from rpod.image.registries_conf import load_registries_config
    from rpod.image.registry import RegistryClient

    insecure = load_registries_config().is_insecure(host)
    client = RegistryClient(host, insecure=insecure, tls_verify=tls_verify,
                            credentials=Credentials(username, password), certs_dir=cert_dir)
    from rpod.errors import RegistryAuthError

    try:
        client.check_login()
    except RegistryAuthError as e:  # Podman's (containers/common auth) wording
        raise RegistryAuthError(f'logging into "{host}": invalid username/password', hint=e.hint) from None
    finally:
        client.close()
    store_credentials(host, username, password, authfile=authfile)


def logout(host: str | None, authfile: str | None = None) -> None:
    """Forget the credentials of ``host`` (of every registry when None)."""
    from rpod.errors import RegistryAuthError
    from rpod.image.auth import remove_credentials

    if host is None:
        remove_credentials(None, authfile=authfile, all=True)
        return
    if not remove_credentials(host, authfile=authfile):
        raise RegistryAuthError(f"not logged into {host}")


def run_label(name: str, label: str, paths: Paths | None = None) -> tuple[str, str]:
    """``container runlabel``: (the image's full name, the value of its ``label``), the image
    pulled when missing; Podman's error when the label is absent or empty."""
    from rpod.image.pull import ensure_image

    p = paths_or_default(paths)
    rec = ensure_image(p, name)
    store = _store(p)
    labels = (store.config(rec).get("config") or {}).get("Labels") or {}
    value = labels.get(label) or labels.get(label.upper()) or labels.get(label.lower()) or ""
    if not value.strip():
        raise RpodError(f"cannot find the value of label: {label} in image: {name}")
    full = next((n for n in rec.names if n == name or n.endswith("/" + name) or n.startswith(name + ":")
                 or n.rsplit(":", 1)[0].endswith("/" + name)), rec.names[0] if rec.names else rec.id)
    return full, value
