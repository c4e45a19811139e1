"""Docker Engine API: ``/images/...``."""

from __future__ import annotations

import base64
import json
from typing import Any

from rpod.api.errors import status_for
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng


def _created(rec: Any) -> int:
    try:
        return int(eng.parse_time(rec.created)) if rec.created else 0
    except Exception:
        return 0


def image_summary(rec: Any, used: dict[str, list[str]]) -> dict[str, Any]:
    return {"Id": "sha256:" + rec.id, "ParentId": "", "RepoTags": rec.names or ["<none>:<none>"],
            "RepoDigests": rec.repo_digests or [], "Created": _created(rec), "Size": rec.size,
            "SharedSize": -1, "VirtualSize": rec.size, "Labels": _labels(rec) or {},
            "Containers": len(used.get(rec.id, []))}


def _labels(rec: Any) -> dict[str, str] | None:
    try:
        return (eng.image_config(rec).get("config") or {}).get("Labels")
    except Exception:
        return None


@route("GET", "/images/json")
def list_images(req: Request, conn: Connection) -> Any:
    from rpod.api.convert import filters

    flt = filters(req)
    used = eng.image_in_use()
    out = []
    for rec in eng.images():
        if "dangling" in flt and (not rec.names) != (flt["dangling"][0] in ("true", "1")):
            continue
        if "reference" in flt and not any(_ref_match(n, v) for n in rec.names for v in flt["reference"]):
            continue
        if "label" in flt:
            labels = _labels(rec) or {}
            if not all((labels.get(k) == v) if sep else k in labels
                       for k, sep, v in (x.partition("=") for x in flt["label"])):
                continue
        out.append(image_summary(rec, used))
    return out


def _ref_match(name: str, pattern: str) -> bool:
    import fnmatch

    pattern = eng.docker_name(pattern)
    short = name.split("/", 1)[1] if "/" in name and ("." in name.split("/")[0] or ":" in name.split("/")[0]) \
        else name
    cands = {name, short, short.rsplit(":", 1)[0] if ":" in short.rsplit("/", 1)[-1] else short,
             name.rsplit(":", 1)[0]}
    return any(fnmatch.fnmatch(c, pattern) for c in cands)


@route("GET", "/images/{name:path}/json")
def inspect(req: Request, conn: Connection, name: str) -> Any:
    rec = eng.image(name)
    return docker_inspect(rec)


def docker_inspect(rec: Any) -> dict[str, Any]:
    doc = eng.image_inspect(rec)
    cfg = doc.get("Config") or {}
    return {
        "Id": "sha256:" + rec.id, "RepoTags": rec.names, "RepoDigests": rec.repo_digests, "Parent": "",
        "Comment": doc.get("Comment", ""), "Created": doc.get("Created", ""), "Container": "",
        "ContainerConfig": {}, "DockerVersion": doc.get("Version", ""), "Author": doc.get("Author", ""),
        "Config": {**cfg, "Labels": cfg.get("Labels"), "Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"),
                   "Entrypoint": cfg.get("Entrypoint"), "ExposedPorts": cfg.get("ExposedPorts"),
                   "WorkingDir": cfg.get("WorkingDir", ""), "User": cfg.get("User", ""),
                   "Volumes": cfg.get("Volumes")},
        "Architecture": doc.get("Architecture", ""), "Os": doc.get("Os", ""), "Size": rec.size,
        "VirtualSize": rec.size, "GraphDriver": doc.get("GraphDriver"), "RootFS": doc.get("RootFS"),
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


@route("GET", "/images/{name:path}/history")
def history(req: Request, conn: Connection, name: str) -> Any:
    rec = eng.image(name)
    hist = eng.image_inspect(rec).get("History") or []
    out = []
    for i, h in enumerate(reversed(hist)):
        out.append({"Id": "sha256:" + rec.id if i == 0 else "<missing>",
                    "Created": int(eng.parse_time(h["created"])) if h.get("created") else 0,
                    "CreatedBy": h.get("created_by", ""), "Tags": rec.names if i == 0 else None, "Size": 0,
                    "Comment": h.get("comment", "")})
    return out


def _creds(req: Request) -> str | None:
    """``X-Registry-Auth``: base64url JSON ``{"username", "password"}`` (or an identity token)."""
    raw = req.headers.get("x-registry-auth")
    if not raw:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("username"):
        return f"{doc['username']}:{doc.get('password', '')}"
    return None


@route("POST", "/images/create")
def create(req: Request, conn: Connection) -> Any:
    """Pull (``fromImage``, ``tag``): JSON progress lines, an error line if it fails."""
    name = req.q("fromImage")
    if not name:
        if req.q("fromSrc"):
            return _import(req, conn)
        raise HTTPError(400, "fromImage is required")
    tag = req.q("tag")
    if tag:
        name = f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
    held: list[dict[str, Any]] = []  # lines before the first layer: a missing image is still a 404

    def emit(d: dict[str, Any]) -> None:
        if d.get("status") == "Downloading":  # one line per step; byte counts only at the end
            return
        if not conn.streaming:
            if "id" not in d:
                held.append(d)
                return
            conn.start_stream(200, "application/json")
            for h in held:
                conn.write_json(h)
        conn.write_json(d)

    try:
        rec = eng.pull(name, emit, req.q("platform"), _creds(req))
    except Exception as e:
        if not conn.streaming:
            status = status_for(e)
            if status == 404:  # Docker's words (clients look for them to tell a missing image)
                raise HTTPError(404, f"pull access denied for {name}, repository does not exist or may "
                                     f"require 'docker login': {e}") from None
            raise
        conn.write_json({"errorDetail": {"message": str(e)}, "error": str(e)})
        conn.end()
        return None
    if not conn.streaming:
        conn.start_stream(200, "application/json")
        for h in held:
            conn.write_json(h)
    conn.write_json({"status": f"Digest: {rec.digest}"})
    conn.write_json({"status": f"Status: Downloaded newer image for {name}"})
    conn.end()
    return None


@route("POST", "/images/{name:path}/tag")
def tag_image(req: Request, conn: Connection, name: str) -> Any:
    repo = req.q("repo")
    if not repo:
        raise HTTPError(400, "repo is required")
    target = f"{repo}:{req.q('tag') or 'latest'}"
    eng.tag(name, target)
    conn.respond_empty(201)


@route("DELETE", "/images/{name:path}")
def remove(req: Request, conn: Connection, name: str) -> Any:
    untagged, deleted = eng.remove_image(name, req.qbool("force"))
    return [{"Untagged": n} for n in untagged] + [{"Deleted": "sha256:" + d.removeprefix("sha256:")}
                                                  for d in deleted]


@route("POST", "/images/prune")
def prune(req: Request, conn: Connection) -> Any:
    from rpod.api.convert import filters

    flt = filters(req)
    all_ = flt.get("dangling", ["true"])[0] in ("false", "0")
    flt.pop("dangling", None)
    done = eng.prune_images(all_, flt)
    return {"ImagesDeleted": [{"Deleted": "sha256:" + i} for i, _ in done] or None,
            "SpaceReclaimed": sum(n for _, n in done)}


def _import(req: Request, conn: Connection) -> Any:
    """``docker import``: ``fromSrc=-`` (the tarball is the body) or a URL; ``repo``/``tag``,
    ``changes``, ``message`` as ``rpod import`` takes them."""
    import os
    import tempfile

    from rpod.engine.image_ship import ImportOptions, import_image

    src, repo, tag = req.q("fromSrc") or "", req.q("repo") or "", req.q("tag") or ""
    ref = f"{repo}:{tag}" if repo and tag else repo
    tmp = None
    if src == "-":
        fd, tmp = tempfile.mkstemp(prefix="rpod-import-", dir=os.environ.get("TMPDIR"))
        with os.fdopen(fd, "wb") as f:
            for chunk in req.body_chunks():
                f.write(chunk)
        src = tmp
    try:
        rec = import_image(ImportOptions(source=src, reference=ref, changes=req.qlist("changes"),
                                         message=req.q("message") or ""), None, eng.store())
    finally:
        if tmp:
            os.unlink(tmp)
    conn.start_stream(200, "application/json")
    conn.write_json({"status": "sha256:" + rec.id})
    conn.end()
    return None
