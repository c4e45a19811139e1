"""The Libpod API's pods (``/libpod/pods/...``) and Kubernetes YAML (``/libpod/generate/kube``,
``/libpod/play/kube``, ``/libpod/kube/play|generate``): the same engine calls as ``rpod pod ...``,
``rpod kube play|down`` and ``rpod generate kube`` (``rpod.engine.pods``, ``rpod.engine.kube``),
answered with Podman 4.3's report documents and status codes."""

from __future__ import annotations

from typing import Any

from rpod.api.convert import filters
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng
from rpod.engine import pods as ep

L = "libpod"


def _pod(ref: str) -> dict[str, Any]:
    """The pod's inspect document (404 with Podman's message when there is none)."""
    if not ep.exists(eng.store(), ref):
        raise HTTPError(404, f"no pod with name or ID {ref} found: no such pod")
    return ep.inspect(eng.store(), ref)


def pod_options(spec: dict[str, Any]) -> ep.PodOptions:
    """``PodOptions`` from Podman's PodSpecGenerator (what podman-py and ``podman --remote`` send)."""
    o = ep.PodOptions(name=spec.get("name") or None, hostname=spec.get("hostname") or None,
                      labels=[f"{k}={v}" for k, v in (spec.get("labels") or {}).items()],
                      infra=not spec.get("no_infra"), infra_image=spec.get("infra_image") or None,
                      infra_name=spec.get("infra_name") or None, exit_policy=spec.get("exit_policy") or "continue",
                      create_command=list(spec.get("pod_create_command") or []))
    if spec.get("infra_command"):
        import json

        o.infra_command = json.dumps(list(spec["infra_command"]))
    if spec.get("shared_namespaces") is not None:
        o.share = ",".join(spec["shared_namespaces"]) or "none"
    for pm in spec.get("portmappings") or []:
        ip, host = pm.get("host_ip") or "", pm.get("host_port") or ""
        o.publish.append(f"{ip + ':' if ip else ''}{host}{':' if host or ip else ''}{pm['container_port']}"
                         f"/{pm.get('protocol') or 'tcp'}")
    nets = spec.get("Networks") or spec.get("networks") or {}
    mode = (spec.get("netns") or {}).get("nsmode")
    if nets:
        o.network = ",".join(nets)
    elif mode and mode not in ("bridge", "default", "private"):
        o.network = mode
    o.dns = [str(d) for d in spec.get("dns_server") or []]
    o.dns_search = list(spec.get("dns_search") or [])
    o.dns_option = list(spec.get("dns_option") or [])
    o.add_host = list(spec.get("hostadd") or [])
    return o


@route("POST", "/pods/create", L)
def create(req: Request, conn: Connection) -> Any:
    spec = req.json({})
    if not isinstance(spec, dict):
        raise HTTPError(400, "decode pod spec: expected a JSON object")
    name = spec.get("name")
    if name and ep.exists(eng.store(), name):
        raise HTTPError(409, f"failed to make pod: adding pod to state: name \"{name}\" is in use: pod already exists")
    pod = ep.create(eng.store(), pod_options(spec))
    conn.respond_json(201, {"Id": pod.id})


@route("GET", "/pods/json", L)
def list_pods(req: Request, conn: Connection) -> Any:
    return [{"Cgroup": r.Cgroup, "Containers": [{"Id": c["Id"], "Names": c["Names"], "Status": c["Status"]}
                                                for c in r.Containers],
             "Created": r.CreatedAt, "Id": r.ID, "InfraId": r.InfraID, "Name": r.Name, "Namespace": r.Namespace,
             "Networks": r.Networks, "Status": r.Status, "Labels": r.Labels}
            for r in ep.ps(eng.store(), filters(req), no_trunc=True)]


@route("GET", "/pods/{ref}/json", L)
def inspect(req: Request, conn: Connection, ref: str) -> Any:
    return _pod(ref)


@route("GET", "/pods/{ref}/exists", L)
def exists(req: Request, conn: Connection, ref: str) -> Any:
    _pod(ref)
    conn.respond_empty(204)


def _errs_report(report: Any, verb: str) -> tuple[int, dict[str, Any]]:
    if report.error is not None:
        raise report.error
    errs = [f"{verb} container {getattr(c, 'id', c)}: {e}" for c, e in report.errors]
    return (409 if errs else 200), {"Errs": errs or None, "Id": report.id}


def _verb(conn: Connection, ref: str, fn: Any, verb: str, unchanged_when: str | None) -> None:
    doc = _pod(ref)
    if unchanged_when and doc["State"] == unchanged_when:
        conn.respond_empty(304)
        return
    status, body = _errs_report(fn([doc["Id"]])[0], verb)
    conn.respond_json(status, body)


@route("POST", "/pods/{ref}/start", L)
def start(req: Request, conn: Connection, ref: str) -> Any:
    _verb(conn, ref, lambda refs: ep.start(eng.store(), refs), "starting", "Running")


@route("POST", "/pods/{ref}/stop", L)
def stop(req: Request, conn: Connection, ref: str) -> Any:
    t = req.qint("t")
    doc = _pod(ref)
    if doc["State"] != "Running" and doc["State"] != "Degraded":
        conn.respond_empty(304)
        return
    status, body = _errs_report(ep.stop(eng.store(), [doc["Id"]], timeout=t if t and t > 0 else None)[0],
                                "stopping")
    conn.respond_json(status, body)


@route("POST", "/pods/{ref}/restart", L)
def restart(req: Request, conn: Connection, ref: str) -> Any:
    _verb(conn, ref, lambda refs: ep.restart(eng.store(), refs), "restarting", None)


@route("POST", "/pods/{ref}/kill", L)
def kill(req: Request, conn: Connection, ref: str) -> Any:
    doc = _pod(ref)
    if not any(c["State"] == "running" for c in doc["Containers"]):
        raise HTTPError(409, f"cannot kill a pod with no running containers: {doc['Id']}")
    sig = req.q("signal") or "SIGKILL"
    status, body = _errs_report(ep.kill(eng.store(), [doc["Id"]], sig)[0], "killing")
    conn.respond_json(status, body)


@route("POST", "/pods/{ref}/pause", L)
def pause(req: Request, conn: Connection, ref: str) -> Any:
    """Pausing a pod pauses its running containers (the container engine's error where it cannot)."""
    doc = _pod(ref)
    for c in doc["Containers"]:
        if c["State"] == "running":
            eng.pause(c["Id"])
    return {"Errs": None, "Id": doc["Id"]}


@route("POST", "/pods/{ref}/unpause", L)
def unpause(req: Request, conn: Connection, ref: str) -> Any:
    doc = _pod(ref)
    for c in doc["Containers"]:
        if c["State"] == "paused":
            eng.unpause(c["Id"])
    return {"Errs": None, "Id": doc["Id"]}


@route("DELETE", "/pods/{ref}", L)
def remove(req: Request, conn: Connection, ref: str) -> Any:
    doc = _pod(ref)
    report = ep.rm(eng.store(), [doc["Id"]], force=req.qbool("force"), timeout=req.qint("timeout"))[0]
    if report.error is not None:
        raise report.error
    return {"Err": None, "Id": doc["Id"]}


@route("POST", "/pods/prune", L)
def prune(req: Request, conn: Connection) -> Any:
    return [{"Err": str(r.error) if r.error else None, "Id": r.id or r.ref} for r in ep.prune(eng.store())]


@route("GET", "/pods/{ref}/top", L)
def top(req: Request, conn: Connection, ref: str) -> Any:
    """``pod top``: the processes of the pod's running containers (one header row)."""
    from rpod.engine.containers_top import top as ctr_top

    doc = _pod(ref)
    running = [c["Id"] for c in doc["Containers"] if c["State"] == "running"]
    if not running:
        raise HTTPError(409, f"pod {doc['Id']} is not running: no such container")
    descriptors = [d for v in req.qlist("ps_args") for d in v.replace(",", " ").split()]
    rows: list[list[str]] = []
    for cid in running:
        rows += ctr_top(cid, descriptors, False)[0 if not rows else 1:]
    return {"Titles": rows[0], "Processes": rows[1:]}


# ---------------------------------------------------------------------------------- Kubernetes YAML
@route("GET", "/generate/kube", L)
@route("GET", "/kube/generate", L)
def generate_kube(req: Request, conn: Connection) -> Any:
    from rpod.engine import kube

    names = req.qlist("names")
    if not names:
        raise HTTPError(400, "generating YAML: at least one name is required")
    text = kube.generate(names, service=req.qbool("service"), paths=eng.store())
    conn.respond(200, text.encode(), "application/x-tar")  # sic: Podman 4.3's Content-Type


@route("POST", "/play/kube", L)
@route("POST", "/kube/play", L)
def play_kube(req: Request, conn: Connection) -> Any:
    from rpod.engine import kube

    text = req.body().decode("utf-8", "replace")
    if not text.strip():
        raise HTTPError(400, "a Kubernetes YAML body is required")
    nets = [n for v in req.qlist("network") for n in v.split(",") if n]
    opts = kube.PlayOptions(start=req.qbool("start", True), network=",".join(nets) or None,
                            log_driver=req.q("logDriver") or None, replace=req.qbool("replace"))
    report = kube.play(text, opts, eng.store())
    return {"Pods": [{"ID": p.id, "Containers": p.containers, "InitContainers": [], "Logs": [],
                      "ContainerErrors": p.errors} for p in report.pods],
            "Volumes": [{"Name": v} for v in report.volumes], "StopReport": None, "RmReport": None,
            "Secrets": None}


@route("DELETE", "/play/kube", L)
@route("DELETE", "/kube/play", L)
def down_kube(req: Request, conn: Connection) -> Any:
    from rpod.engine import kube

    report = kube.down(req.body().decode("utf-8", "replace"), force=req.qbool("force"), paths=eng.store())
    if report.errors:
        raise report.errors[0]
    return {"Pods": None, "Volumes": None, "Secrets": None,
            "StopReport": [{"Errs": None, "Id": i} for i in report.stopped],
            "RmReport": [{"Err": None, "Id": i} for i in report.removed]}
