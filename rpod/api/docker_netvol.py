"""Docker Engine API: ``/networks/...`` and ``/volumes/...`` (the engine's network and volume verbs)."""

from __future__ import annotations

from typing import Any

from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import networks as en
from rpod.engine import volumes as ev

_HOST_NETWORKS = {"bridge": "slirp4netns", "host": "host", "none": "none"}  # Docker's predefined ones


def _raise_first(reports: list[Any]) -> None:
    for r in reports:
        if r.error is not None:
            raise r.error


# ------------------------------------------------------------------------------------------ networks
def network_doc(net: Any) -> dict[str, Any]:
    containers: dict[str, Any] = {}
    for rec, st in eng.containers():
        nets = (eng.network_view(rec)["settings"].get("Networks") or {}) if st.running else {}
        if net.name in nets:
            a = nets[net.name]
            containers[rec.id] = {"Name": rec.name, "EndpointID": "", "MacAddress": a.get("MacAddress", ""),
                                  "IPv4Address": f"{a.get('IPAddress', '')}/{a.get('IPPrefixLen', 0)}",
                                  "IPv6Address": ""}
    return {"Name": net.name, "Id": net.id, "Created": net.created, "Scope": "local", "Driver": net.driver,
            "EnableIPv6": net.ipv6_enabled, "Internal": net.internal, "Attachable": False, "Ingress": False,
            "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": s["subnet"], "Gateway": s["gateway"]}
                                                                   for s in net.subnets]},
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(net.options or {}), "Labels": dict(net.labels or {})}


def _predefined(name: str) -> dict[str, Any]:
    return {"Name": name, "Id": name, "Created": "0001-01-01T00:00:00Z", "Scope": "local",
            "Driver": "null" if name == "none" else name, "EnableIPv6": False, "Internal": False,
            "Attachable": False, "Ingress": False, "IPAM": {"Driver": "default", "Options": {}, "Config": []},
            "Containers": {}, "Options": {}, "Labels": {}}


@route("GET", "/networks")
def list_networks(req: Request, conn: Connection) -> Any:
    flt = filters(req)
    out = [network_doc(n) for n in en.list_networks({k: v for k, v in flt.items() if k != "type"}, eng.store())]
    if not flt or flt.get("name") and any(n in _HOST_NETWORKS for n in flt["name"]):
        out += [_predefined(n) for n in _HOST_NETWORKS if not flt or n in flt.get("name", [])]
    return out


@route("GET", "/networks/{name}")
def inspect_network(req: Request, conn: Connection, name: str) -> Any:
    if name in _HOST_NETWORKS:
        return _predefined(name)
    report = en.inspect([name], eng.store())
    if report.errors:
        raise HTTPError(404, f"network {name} not found")
    return network_doc(report.networks[0])


@route("POST", "/networks/create")
def create_network(req: Request, conn: Connection) -> Any:
    body = req.json({})
    if not isinstance(body, dict) or not body.get("Name"):
        raise HTTPError(400, "network name is required")
    ipam = (body.get("IPAM") or {}).get("Config") or [{}]
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise HTTPError(400, f"unsupported network driver {driver!r}: rpod creates bridge networks")
    if body.get("CheckDuplicate") and en.exists(body["Name"], eng.store()):
        raise HTTPError(409, f"network with name {body['Name']} already exists")
    net = en.create(en.CreateOptions(name=body["Name"], subnet=ipam[0].get("Subnet"), gateway=ipam[0].get("Gateway"),
                                     internal=bool(body.get("Internal")), labels=dict(body.get("Labels") or {}),
                                     options=dict(body.get("Options") or {})), eng.store())
    conn.respond_json(201, {"Id": net.id, "Warning": ""})


@route("DELETE", "/networks/{name}")
def remove_network(req: Request, conn: Connection, name: str) -> Any:
    if name in _HOST_NETWORKS:
        raise HTTPError(403, f"{name} is a pre-defined network and cannot be removed")
    if not en.exists(name, eng.store()):
        raise HTTPError(404, f"network {name} not found")
    _raise_first(en.remove([name], force=req.qbool("force"), paths=eng.store()))
    conn.respond_empty(204)


@route("POST", "/networks/prune")
def prune_networks(req: Request, conn: Connection) -> Any:
    return {"NetworksDeleted": en.prune(filters(req) or None, eng.store())}


@route("POST", "/networks/{name}/connect")
def connect(req: Request, conn: Connection, name: str) -> Any:
    body = req.json({}) or {}
    ref = body.get("Container")
    if not ref:
        raise HTTPError(400, "container is required")
    aliases = ((body.get("EndpointConfig") or {}).get("Aliases")) or []
    en.connect(name, ref, aliases, eng.store())
    conn.respond_empty(200)


@route("POST", "/networks/{name}/disconnect")
def disconnect(req: Request, conn: Connection, name: str) -> Any:
    body = req.json({}) or {}
    if not body.get("Container"):
        raise HTTPError(400, "container is required")
    en.disconnect(name, body["Container"], eng.store())
    conn.respond_empty(200)


# ------------------------------------------------------------------------------------------- volumes
def volume_doc(doc: dict[str, Any]) -> dict[str, Any]:
    return {"Name": doc["Name"], "Driver": doc["Driver"], "Mountpoint": doc["Mountpoint"],
            "CreatedAt": doc["CreatedAt"], "Labels": doc["Labels"] or {}, "Scope": "local",
            "Options": doc["Options"] or {}, "Status": {}, "UsageData": {"Size": -1, "RefCount": doc["MountCount"]}}


@route("GET", "/volumes")
def list_volumes(req: Request, conn: Connection) -> Any:
    return {"Volumes": [volume_doc(d) for d in ev.list_volumes(filters(req), eng.store())], "Warnings": []}


@route("POST", "/volumes/create")
def create_volume(req: Request, conn: Connection) -> Any:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise HTTPError(400, "decode volume create options: expected a JSON object")
    name = body.get("Name") or None
    if name and ev.exists(name, eng.store()):  # Docker: creating an existing volume returns it
        return _volume(name)
    rec = ev.create(ev.CreateOptions(name=name, driver=body.get("Driver") or "local",
                                     labels=dict(body.get("Labels") or {}),
                                     options=dict(body.get("DriverOpts") or {})), eng.store())
    conn.respond_json(201, _volume(rec.name))


def _volume(name: str) -> dict[str, Any]:
    report = ev.inspect([name], paths=eng.store())
    if report.errors:
        raise report.errors[0]
    return volume_doc(report.docs[0])


@route("GET", "/volumes/{name}")
def inspect_volume(req: Request, conn: Connection, name: str) -> Any:
    return _volume(name)


@route("DELETE", "/volumes/{name}")
def remove_volume(req: Request, conn: Connection, name: str) -> Any:
    _volume(name)
    _raise_first(ev.remove([name], force=req.qbool("force"), paths=eng.store()))
    conn.respond_empty(204)


@route("POST", "/volumes/prune")
def prune_volumes(req: Request, conn: Connection) -> Any:
    done = ev.prune(filters(req) or None, eng.store())
    return {"VolumesDeleted": [n for n, _ in done] or None, "SpaceReclaimed": sum(s for _, s in done)}
