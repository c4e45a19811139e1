"""The Libpod API's networks and volumes (``/libpod/networks/...``, ``/libpod/volumes/...``):
Podman's documents (``podman network inspect`` / ``podman volume inspect``) from the same engine
calls as the CLI (``rpod.engine.networks``, ``rpod.engine.volumes``)."""

from __future__ import annotations

from typing import Any

from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import networks as en
from rpod.engine import volumes as ev

L = "libpod"


# ------------------------------------------------------------------------------------------ networks
def _network(name: str) -> Any:
    report = en.inspect([name], eng.store())
    if report.errors or not report.networks:
        raise HTTPError(404, f"unable to find network with name or ID {name}: network not found")
    return report.networks[0]


@route("GET", "/networks/json", L)
def list_networks(req: Request, conn: Connection) -> Any:
    return [n.to_json() for n in en.list_networks(filters(req), eng.store())]


@route("GET", "/networks/{name}/json", L)
def inspect_network(req: Request, conn: Connection, name: str) -> Any:
    return _network(name).to_json()


@route("GET", "/networks/{name}/exists", L)
def network_exists(req: Request, conn: Connection, name: str) -> Any:
    _network(name)
    conn.respond_empty(204)


@route("POST", "/networks/create", L)
def create_network(req: Request, conn: Connection) -> Any:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "decode network create options: expected a JSON object")
    subnets = body.get("subnets") or [{}]
    driver = body.get("driver") or "bridge"
    if driver != "bridge":
        raise HTTPError(400, f"unsupported driver {driver}: invalid argument")
    net = en.create(en.CreateOptions(name=body.get("name") or None, subnet=subnets[0].get("subnet"),
                                     gateway=subnets[0].get("gateway"), internal=bool(body.get("internal")),
                                     disable_dns=body.get("dns_enabled") is False,
                                     labels=dict(body.get("labels") or {}), options=dict(body.get("options") or {})),
                    eng.store())
    return net.to_json()


@route("DELETE", "/networks/{name}", L)
def remove_network(req: Request, conn: Connection, name: str) -> Any:
    _network(name)
    reports = en.remove([name], force=req.qbool("force"), paths=eng.store())
    for r in reports:
        if r.error is not None:
            raise r.error
    return [{"Name": name, "Err": None}]


@route("POST", "/networks/prune", L)
def prune_networks(req: Request, conn: Connection) -> Any:
    return [{"Name": n, "Error": None} for n in en.prune(filters(req) or None, eng.store())]


@route("POST", "/networks/{name}/connect", L)
def connect(req: Request, conn: Connection, name: str) -> Any:
    body = req.json({}) or {}
    ref = body.get("container") or body.get("Container")
    if not ref:
        raise HTTPError(400, "container is required")
    en.connect(name, ref, list(body.get("aliases") or []), eng.store())
    conn.respond_empty(200)


@route("POST", "/networks/{name}/disconnect", L)
def disconnect(req: Request, conn: Connection, name: str) -> Any:
    body = req.json({}) or {}
    ref = body.get("Container") or body.get("container")
    if not ref:
        raise HTTPError(400, "container is required")
    en.disconnect(name, ref, eng.store())
    conn.respond_empty(200)


# ------------------------------------------------------------------------------------------- volumes
def _volume(name: str) -> dict[str, Any]:
    report = ev.inspect([name], paths=eng.store())
    if report.errors:
        raise HTTPError(404, f"no volume with name \"{name}\" found: no such volume")
    return report.docs[0]


@route("GET", "/volumes/json", L)
def list_volumes(req: Request, conn: Connection) -> Any:
    return ev.list_volumes(filters(req), eng.store())


@route("GET", "/volumes/{name}/json", L)
def inspect_volume(req: Request, conn: Connection, name: str) -> Any:
    return _volume(name)


@route("GET", "/volumes/{name}/exists", L)
def volume_exists(req: Request, conn: Connection, name: str) -> Any:
    _volume(name)
    conn.respond_empty(204)


@route("POST", "/volumes/create", L)
def create_volume(req: Request, conn: Connection) -> Any:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "decode volume create options: expected a JSON object")
    name = body.get("Name") or None
    if name and ev.exists(name, eng.store()):
        raise HTTPError(409, f"volume with name {name} already exists: volume already exists")
    rec = ev.create(ev.CreateOptions(name=name, driver=body.get("Driver") or "local",
                                     labels=dict(body.get("Label") or body.get("Labels") or {}),
                                     options=dict(body.get("Options") or {})), eng.store())
    conn.respond_json(201, _volume(rec.name))


@route("DELETE", "/volumes/{name}", L)
def remove_volume(req: Request, conn: Connection, name: str) -> Any:
    _volume(name)
    for r in ev.remove([name], force=req.qbool("force"), paths=eng.store()):
        if r.error is not None:
            raise r.error
    conn.respond_empty(204)


@route("POST", "/volumes/prune", L)
def prune_volumes(req: Request, conn: Connection) -> Any:
    return [{"Id": n, "Size": s} for n, s in ev.prune(filters(req) or None, eng.store())]
