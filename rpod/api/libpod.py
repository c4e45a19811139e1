"""The Libpod API (``/v4.x.x/libpod/...``) for podman-py and ``podman --remote``: Podman's own
documents (the engine's inspect/ps/images/info reports, as ``podman ... --format json`` prints
them).  A libpod path with no handler here falls back to the Docker handler of the same path
(``rpod.api.app.find``): exec, archive, networks, volumes, events, start/stop/kill..."""

from __future__ import annotations

import json
from typing import Any

from rpod.api import LIBPOD_VERSION
from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import containers as ec
from rpod.engine import containers_inspect as eci
from rpod.engine import images as ei
from rpod.engine import system as es

L = "libpod"


@route("GET", "/_ping", L)
def ping(req: Request, conn: Connection) -> Any:
    conn.respond(200, b"OK", "text/plain; charset=utf-8", [("Cache-Control", "no-cache, no-store, must-revalidate")])


@route("GET", "/version", L)
def version(req: Request, conn: Connection) -> Any:
    from rpod.api.docker_other import version as docker_version

    doc = docker_version(req, conn)
    doc["Version"] = doc["ApiVersion"] = LIBPOD_VERSION
    return doc


@route("GET", "/info", L)
def info(req: Request, conn: Connection) -> Any:
    return es.info(eng.store()).doc


# ---------------------------------------------------------------------------------------- containers
@route("GET", "/containers/json", L)
def list_containers(req: Request, conn: Connection) -> Any:
    opts = ec.ListOptions(all=req.qbool("all"), filters=filters(req), size=req.qbool("size"),
                          last=req.qint("limit", -1) or -1)
    from datetime import UTC, datetime

    out = []
    rows = ec.ps(opts, eng.store())
    recs = {rec.id: rec for rec, _ in eng.containers()} if any(r.Ports for r in rows) else {}
    for r in rows:
        doc = r.json(size=opts.size)  # the CLI's JSON, but ListContainer's Created is a time, not a number
        doc["Created"] = datetime.fromtimestamp(doc["Created"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc["Ports"] = _port_mappings(recs[r.Id]) if r.Id in recs else None
        doc["Status"] = ""  # Podman's client words the status itself from State and StartedAt
        out.append(doc)
    return out


def _port_mappings(rec: Any) -> list[dict[str, Any]]:
    """Podman's ``[]PortMapping`` from the Docker-style port bindings."""
    out = []
    for key, binds in (eng.network_view(rec).get("ports") or {}).items():
        port, _, proto = key.partition("/")
        for b in binds or []:
            out.append({"host_ip": b.get("HostIp") or "", "container_port": int(port),
                        "host_port": int(b.get("HostPort") or 0), "range": 1, "protocol": proto or "tcp"})
    return out


@route("GET", "/containers/{ref}/json", L)
def inspect(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    return eci.container_doc(eng.store(), rec, eng.container_state(rec.id))


@route("GET", "/containers/{ref}/exists", L)
def exists(req: Request, conn: Connection, ref: str) -> Any:
    if not ec.exists(ref, eng.store()):
        raise HTTPError(404, f"no container with name or ID \"{ref}\" found: no such container")
    conn.respond_empty(204)


@route("POST", "/containers/create", L)
def create(req: Request, conn: Connection) -> Any:
    spec = req.json({})
    if not isinstance(spec, dict) or not spec.get("image"):
        raise HTTPError(400, "decode spec: an image is required")
    rec = eng.create(spec_options(spec))
    conn.respond_json(201, {"Id": rec.id, "Warnings": list(rec.warnings or [])})


def spec_options(spec: dict[str, Any]) -> dict[str, Any]:
    """``RunOptions`` fields from Podman's SpecGenerator."""
    f: dict[str, Any] = {"image": spec["image"], "command": list(spec.get("command") or []), "detach": True}
    for key in ("name", "pod"):
        if spec.get(key):
            f[key] = spec[key]
    if spec.get("entrypoint") is not None:
        f["entrypoint"] = json.dumps(list(spec["entrypoint"]))
    f["env"] = [f"{k}={v}" for k, v in (spec.get("env") or {}).items()]
    f["labels"] = [f"{k}={v}" for k, v in (spec.get("labels") or {}).items()]
    f["tty"], f["interactive"], f["rm"] = bool(spec.get("terminal")), bool(spec.get("stdin")), bool(spec.get("remove"))
    for key, fld in (("work_dir", "workdir"), ("user", "user"), ("hostname", "hostname")):
        if spec.get(key):
            f[fld] = spec[key]
    if spec.get("stop_timeout") is not None:
        f["stop_timeout"] = int(spec["stop_timeout"])
    if spec.get("stop_signal"):
        f["stop_signal"] = str(spec["stop_signal"])
    publish = []
    for pm in spec.get("portmappings") or []:
        ctr, host, proto = pm.get("container_port"), pm.get("host_port"), pm.get("protocol") or "tcp"
        ip = pm.get("host_ip") or ""
        publish.append(f"{ip + ':' if ip else ''}{host or ''}{':' if host or ip else ''}{ctr}/{proto}")
    f["publish"] = publish
    f["volumes"] = [f"{m['source']}:{m['destination']}" + (":" + ",".join(m["options"]) if m.get("options") else "")
                    for m in spec.get("mounts") or [] if m.get("type") in (None, "bind")]
    f["volumes"] += [f"{v['Name']}:{v['Dest']}" for v in spec.get("volumes") or []]
    nets = spec.get("networks") or {}
    mode = (spec.get("netns") or {}).get("nsmode")
    if nets:
        f["network"] = ",".join(nets)
        f["network_alias"] = [a for n in nets.values() for a in (n or {}).get("aliases") or []]
    elif mode and mode not in ("bridge", "default", "private"):
        f["network"] = mode
    f["cap_add"] = list(spec.get("cap_add") or [])
    f["cap_drop"] = list(spec.get("cap_drop") or [])
    f["privileged"] = bool(spec.get("privileged"))
    from rpod.api.convert import _healthcheck

    _healthcheck(spec.get("healthconfig"), f)  # Docker's HealthConfig, as Podman's SpecGenerator carries it
    if spec.get("restart_policy"):
        f["restart"] = spec["restart_policy"] + (f":{spec['restart_tries']}" if spec.get("restart_tries") else "")
    return {k: v for k, v in f.items() if k in eng.run_options_fields()}


@route("POST", "/containers/{ref}/wait", L)
def wait(req: Request, conn: Connection, ref: str) -> Any:
    conds = req.qlist("condition") or ["stopped"]
    rec = eng.container(ref)
    code, _ = eng.wait(rec.id, "not-running" if "stopped" in conds or "exited" in conds else "next-exit",
                       conn.client_gone)
    return code


@route("POST", "/containers/{ref}/shouldrestart", L)
def should_restart(req: Request, conn: Connection, ref: str) -> Any:
    """podman --remote run asks after the exit: the monitor restarts containers itself."""
    eng.container(ref)
    conn.respond_empty(204)


@route("DELETE", "/containers/{ref}", L)
def remove(req: Request, conn: Connection, ref: str) -> Any:
    rec = eng.container(ref)
    eng.remove(ref, req.qbool("force"), req.qbool("v"))
    return [{"Id": rec.id, "Err": None}]


@route("POST", "/containers/{ref}/start", L)
def start(req: Request, conn: Connection, ref: str) -> Any:
    from rpod.api.docker_containers import start as docker_start

    return docker_start(req, conn, ref)


# -------------------------------------------------------------------------------------------- images
@route("GET", "/images/json", L)
def list_images(req: Request, conn: Connection) -> Any:
    rows = ei.list_images(ei.ListOptions(filters=filters(req), containers=True), eng.store())
    seen: dict[str, dict[str, Any]] = {}
    for row, rec in rows:  # one object per image (rows are per name)
        if rec.id not in seen:
            doc = ei.image_json(row, rec)
            doc["RepoTags"] = list(rec.names) or None  # the API's ImageSummary (the CLI's JSON has Names)
            doc.setdefault("Names", list(rec.names))
            seen[rec.id] = doc
    return list(seen.values())


@route("GET", "/images/{name:path}/json", L)
def inspect_image(req: Request, conn: Connection, name: str) -> Any:
    report = ei.inspect([eng.docker_name(name)], eng.store())
    if report.errors:
        raise report.errors[0]
    return report.docs[0]


@route("GET", "/images/{name:path}/exists", L)
def image_exists(req: Request, conn: Connection, name: str) -> Any:
    if not ei.exists(eng.docker_name(name), eng.store()):
        raise HTTPError(404, f"{name}: image not known")
    conn.respond_empty(204)


@route("POST", "/images/pull", L)
def pull(req: Request, conn: Connection) -> Any:
    """Podman's pull stream: ``{"stream": ...}`` lines, then ``{"images": [...], "id": ...}``."""
    ref = req.q("reference")
    if not ref:
        raise HTTPError(400, "reference is required")
    if req.q("policy") in ("missing", "newer") and ei.exists(eng.docker_name(ref), eng.store()):
        rec = eng.image(ref)  # podman --remote run/create: pull only what is missing
        conn.respond_json(200, {"images": [rec.id], "id": rec.id})
        return None
    conn.start_stream(200, "application/json")

    def emit(d: dict[str, Any]) -> None:
        if d.get("status") in ("Pulling fs layer",) or "status" in d and "id" not in d:
            conn.write_json({"stream": f"{d['status']} {d.get('id', '')}".rstrip() + "\n"})

    try:
        rec = eng.pull(ref, emit, None, None)
    except Exception as e:
        conn.write_json({"error": str(e), "errorDetail": {"message": str(e)}})
        conn.end()
        return None
    conn.write_json({"images": [rec.id], "id": rec.id})
    conn.end()
    return None


@route("DELETE", "/images/{name:path}", L)
def remove_image(req: Request, conn: Connection, name: str) -> Any:
    untagged, deleted = eng.remove_image(name, req.qbool("force"))
    return {"Untagged": untagged, "Deleted": deleted, "Errors": [], "ExitCode": 0}


@route("POST", "/images/{name:path}/tag", L)
def tag(req: Request, conn: Connection, name: str) -> Any:
    repo = req.q("repo")
    if not repo:
        raise HTTPError(400, "repo is required")
    eng.tag(name, f"{repo}:{req.q('tag') or 'latest'}")
    conn.respond_empty(201)
