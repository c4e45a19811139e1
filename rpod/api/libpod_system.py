"""Libpod API paths whose documents differ from Docker's (``podman --remote`` decodes Podman's):
``system/df``, ``system/prune``, ``containers/prune``, ``images/prune``, ``images/remove``,
``images/export``, ``images/{name}/untag``.  The same engine calls as the CLI."""

from __future__ import annotations

from typing import Any

from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import images as ei
from rpod.engine import system as es

L = "libpod"


@route("GET", "/system/df", L)
def df(req: Request, conn: Connection) -> Any:
    """Podman's ``SystemDfReport`` (``podman system df`` over the API)."""
    usage = es.df(eng.store())
    images = []
    for i in usage.images:
        r = i["rec"]
        repo, _, tag = r.names[0].rpartition(":") if r.names else ("<none>", "", "<none>")
        images.append({"Repository": repo, "Tag": tag, "ImageID": r.id, "Created": r.created, "Size": i["size"],
                       "SharedSize": i["shared"], "UniqueSize": i["size"] - i["shared"],
                       "Containers": i["containers"]})
    containers = [{"ContainerID": c["rec"].id, "Image": c["rec"].image_id, "Command": list(c["rec"].command),
                   "LocalVolumes": c["volumes"], "Size": c["size"], "RWSize": c["size"], "Created": c["rec"].created,
                   "Status": c["state"].status, "Names": c["rec"].name} for c in usage.containers]
    volumes = [{"VolumeName": v["name"], "Links": v["links"], "Size": v["size"],
                "ReclaimableSize": 0 if v["active"] else v["size"]} for v in usage.volumes]
    return {"Images": images, "Containers": containers, "Volumes": volumes}


def _prune_reports(done: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"Id": i, "Err": None, "Size": n} for i, n in done]


@route("POST", "/containers/prune", L)
def prune_containers(req: Request, conn: Connection) -> Any:
    return _prune_reports(eng.prune_containers(filters(req)))


@route("POST", "/images/prune", L)
def prune_images(req: Request, conn: Connection) -> Any:
    flt = filters(req)
    flt.pop("dangling", None)
    return _prune_reports(eng.prune_images(req.qbool("all"), flt))


@route("POST", "/system/prune", L)
def prune_system(req: Request, conn: Connection) -> Any:
    """Podman's ``SystemPruneReport``: pods, containers, (``volumes``) volumes, images."""
    from rpod.engine import pods as ep

    pods = [{"Err": str(r.error) if r.error else None, "Id": r.id or r.ref} for r in ep.prune(eng.store())]
    report = es.prune(all_=req.qbool("all"), volumes=req.qbool("volumes"), filters=filters(req), paths=eng.store())
    return {"PodPruneReport": pods, "ContainerPruneReports": [{"Id": i, "Err": None, "Size": 0}
                                                              for i in report.containers],
            "ImagePruneReports": [{"Id": i, "Err": None, "Size": 0} for i in report.images],
            "VolumePruneReports": [{"Id": i, "Err": None, "Size": 0} for i in report.volumes],
            "ReclaimedSpace": report.reclaimed}


@route("DELETE", "/images/remove", L)
def remove_images(req: Request, conn: Connection) -> Any:
    """``podman --remote rmi``: every named image; Podman's ``ImageRemoveReport``."""
    untagged: list[str] = []
    deleted: list[str] = []
    errors: list[str] = []
    code = 0
    for name in [n for v in req.qlist("images") for n in v.split(",") if n]:
        try:
            u, d = eng.remove_image(name, req.qbool("force"))
            untagged += u
            deleted += d
        except Exception as e:  # one report for all: each image's error in it (Podman's exit codes)
            errors.append(str(e))
            code = 1 if type(e).__name__ == "NoSuchImage" and code in (0, 1) else 2
    if req.qbool("ignore"):
        errors, code = [], 0
    return {"Deleted": deleted or None, "Untagged": untagged or None, "Errors": errors or None, "ExitCode": code}


@route("GET", "/images/export", L)
def export(req: Request, conn: Connection) -> Any:
    """``podman --remote save``: a docker-archive of ``references``."""
    names = [n for v in req.qlist("references") for n in v.split(",") if n]
    if not names:
        raise HTTPError(400, "references is required")
    from rpod.api.docker_ship import send_archive

    send_archive(conn, names)


@route("POST", "/images/{name:path}/untag", L)
def untag(req: Request, conn: Connection, name: str) -> Any:
    repo, tag = req.q("repo"), req.q("tag")
    ei.untag(eng.docker_name(name), [f"{repo}:{tag or 'latest'}"] if repo else [], eng.store())
    conn.respond_empty(201)


@route("POST", "/images/load", L)
def load(req: Request, conn: Connection) -> Any:
    """``podman --remote load``: Podman's ``ImageLoadReport``."""
    return {"Names": eng.load(req.body_chunks(), lambda d: None)}


@route("GET", "/containers/{ref}/healthcheck", L)
def healthcheck(req: Request, conn: Connection, ref: str) -> Any:
    """``podman --remote healthcheck run``: run the check now; Podman's ``HealthCheckResults``."""
    from rpod.engine import containers as ec

    rec = eng.container(ref)
    healthy = ec.healthcheck_run(rec.id, eng.store())  # 409 without a check or when not running
    doc = eng.health(rec.id) or {}
    # Podman answers this run's result (not the container's status, which may still be "starting")
    return {"Status": "healthy" if healthy else "unhealthy",
            "FailingStreak": doc.get("FailingStreak", 0), "Log": doc.get("Log") or []}
