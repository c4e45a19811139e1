"""What ``images`` and ``image inspect`` show: typed rows and Podman-compatible JSON."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rpod.humanize import human_size, parse_time, since
from rpod.image.store import ImageRecord, ImageStore, split_name
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


@record
class ImageRow:
    """One line of ``rpod images``; field names are the ``--format`` names Podman accepts."""

    ID: str
    Repository: str
    Tag: str
    Digest: str
    CreatedAt: str
    CreatedSince: str
    Created: str
    Size: str
    VirtualSize: str
    SharedSize: str
    UniqueSize: str
    Containers: int
    Names: list[str] = field(default_factory=list)
    Labels: dict[str, str] = field(default_factory=dict)
    Dangling: bool = False
    ReadOnly: bool = False
    History: str = ""  # the names the image has had, newest first, joined as Podman's template method does

    # JSON keys of ``images --format json`` (Podman's ImageSummary)
    def to_json(self, record: ImageRecord, created_ts: float) -> dict[str, Any]:
        return {
            "Id": record.id,
            "ParentId": "",
            "RepoTags": None,
            "RepoDigests": record.repo_digests,
            "Size": record.size,
            "SharedSize": 0,
            "VirtualSize": record.size,
            "Labels": self.Labels or None,
            "Containers": self.Containers,
            "Names": record.names or None,
            "Digest": record.digest,
            "History": record.names_history or None,
            "Created": int(created_ts),
            "CreatedAt": _rfc3339(created_ts),
        }


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else ""


def _go_time(ts: float) -> str:
    """Go's default time printing: ``2024-09-06 22:20:07 +0000 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC") if ts else ""


def image_rows(store: ImageStore, records: list[ImageRecord], *, no_trunc: bool = False,
               containers_by_image: dict[str, int] | None = None) -> list[tuple[ImageRow, ImageRecord]]:
    """One row per name (``<none>`` rows for untagged images), as ``podman images``."""
    now = time.time()
    rows: list[tuple[ImageRow, ImageRecord]] = []
    for rec in records:
        created = parse_time(rec.created)
        labels: dict[str, str] = {}
        try:
            labels = (store.config(rec).get("config") or {}).get("Labels") or {}
        except Exception:  # a damaged config must not break the listing
            labels = {}
        image_id = f"sha256:{rec.id}" if no_trunc else rec.short_id
        names = rec.names or ["<none>:<none>"]
        for name in names:
            repo, tag = split_name(name) if name != "<none>:<none>" else ("<none>", "<none>")
            rows.append((ImageRow(
                ID=image_id,
                Repository=repo,
                Tag=tag or "<none>",
                Digest=rec.digest,
                CreatedAt=_go_time(created),
                CreatedSince=since(created, now) if created else "",
                Created=since(created, now) if created else "",
                Size=human_size(rec.size),
                VirtualSize=human_size(rec.size),
                SharedSize=human_size(0),
                UniqueSize=human_size(rec.size),
                Containers=(containers_by_image or {}).get(rec.id, 0),
                Names=rec.names,
                Labels=labels,
                Dangling=not rec.names,
                History=", ".join(rec.names_history),
            ), rec))
    return rows


def inspect_image(store: ImageStore, rec: ImageRecord) -> dict[str, Any]:
    """``podman image inspect`` JSON for one image."""
    config = store.config(rec)
    cfg = config.get("config") or {}
    layer_dirs = [str(store.paths.layer_dir(d) / "diff") for d in rec.layers]
    graph: dict[str, Any] = {"Name": "overlay", "Data": {}}
    if layer_dirs:
        graph["Data"]["UpperDir"] = layer_dirs[-1]
        if len(layer_dirs) > 1:
            graph["Data"]["LowerDir"] = ":".join(reversed(layer_dirs[:-1]))
    manifest_annotations: dict[str, str] = {}
    try:
        manifest_annotations = store.manifest(rec).get("annotations") or {}
    except Exception:
        manifest_annotations = {}
    return {
        "Id": rec.id,
        "Digest": rec.digest,
        "RepoTags": rec.names,
        "RepoDigests": rec.repo_digests,
        "Parent": "",
        "Comment": config.get("comment", ""),
        "Created": config.get("created", ""),
        "Config": cfg,
        "Version": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": rec.layers},
        "Labels": cfg.get("Labels"),
        "Annotations": manifest_annotations,
        "ManifestType": rec.manifest_type,
        "User": cfg.get("User", ""),
        "History": config.get("history", []),
        "NamesHistory": rec.names_history,
    }


# Podman 4.3.1's ImageData fields (Config, a v1 image config, stays a map here)
IMAGE_INSPECT_TOP = ("interface {}", frozenset((
    "ID", "Id", "Digest", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Config", "Version",
    "Author", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS", "Labels",
    "Annotations", "ManifestType", "User", "History", "NamesHistory", "HealthCheck",
)))


def image_struct(doc: dict[str, Any]) -> Any:
    """An ``inspect_image`` document as templates see it: Podman's ImageData is a struct, so a
    field it lacks is an error, not ``<no value>``."""
    from rpod.format.gofmt import go_structs

    # ImageData's Go field is ID (JSON "Id"); Podman's templates accept both spellings
    return go_structs({**doc, "ID": doc.get("Id")}, IMAGE_INSPECT_TOP)
