"""``generate kube``: Kubernetes YAML for pods, containers and volumes, as Podman 4.3.1 writes it
(a ``Pod`` per pod or one for the given containers, ``PersistentVolumeClaim`` per volume, an
optional ``Service``), valid against the Kubernetes schemas and played back by ``kube play``:
named volumes become PVC claims, bind mounts hostPath volumes, the infra's published ports
``hostPort``s, ``--entrypoint``/command ``command``/``args``, user-set environment ``env``.
"""

from __future__ import annotations

import re
from typing import Any

from rpod import __version__
from rpod.errors import UsageError
from rpod.paths import Paths

HEADER = ("# Save the output of this file and use kubectl create -f to import it into Kubernetes.\n#\n"
          f"# Created with rpod-{__version__}\n")
_DEFAULT_ENV = ("PATH", "TERM", "container", "HOSTNAME", "HOME")


def _dns_name(name: str) -> str:
    """A DNS-1123 label from a container/pod name (Kubernetes refuses ``_`` and capitals)."""
    out = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")
    return out[:63] or "rpod"


def _image_env(paths: Paths, rec: Any) -> set[str]:
    from rpod.image.store import ImageStore

    store = ImageStore(paths)
    try:
        img = store.get(rec.image_id)
        cfg = store.config(img) if img else {}
    except Exception:
        return set()
    return set(((cfg.get("config") or {}).get("Env")) or [])


def _ports(records: list[str]) -> list[dict[str, Any]]:
    from rpod.network.ports import PortMapping

    out = []
    for text in records:
        m = PortMapping.from_record(text)
        port: dict[str, Any] = {"containerPort": m.container_port, "hostPort": m.host_port}
        if m.host_ip and m.host_ip not in ("0.0.0.0", ""):
            port["hostIP"] = m.host_ip
        if m.proto != "tcp":
            port["protocol"] = m.proto.upper()
        out.append(port)
    return out


def container_doc(paths: Paths, rec: Any, name: str, ports: list[str], volumes: dict[str, dict[str, Any]]
                  ) -> dict[str, Any]:
    """One ``containers[]`` entry; adds the volumes it mounts to ``volumes``."""
    from dataclasses import asdict

    from rpod.container.options import parse_entrypoint

    opts = asdict(rec.options)
    c: dict[str, Any] = {"name": name, "image": rec.image_name}
    entry = parse_entrypoint(opts.get("entrypoint"))
    if entry:
        c["command"] = entry
    if opts.get("command"):
        c["args"] = list(opts["command"])
    if opts.get("workdir"):
        c["workingDir"] = opts["workdir"]
    image_env = _image_env(paths, rec)
    env = [e for e in rec.env if e not in image_env and e.partition("=")[0] not in _DEFAULT_ENV]
    if env:
        c["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in env)]
    if ports:
        c["ports"] = _ports(ports)
    if opts.get("tty"):
        c["tty"] = True
    if opts.get("interactive"):
        c["stdin"] = True
    sec: dict[str, Any] = {}
    caps = {k: [x.upper().removeprefix("CAP_") for x in opts.get(f"cap_{k}") or []] for k in ("add", "drop")}
    if caps["add"] or caps["drop"]:
        sec["capabilities"] = {k: v for k, v in caps.items() if v}
    if opts.get("read_only"):
        sec["readOnlyRootFilesystem"] = True
    if opts.get("privileged"):
        sec["privileged"] = True
    user = str(opts.get("user") or "")
    if user.partition(":")[0].isdigit():
        sec["runAsUser"] = int(user.partition(":")[0])
        if user.partition(":")[2].isdigit():
            sec["runAsGroup"] = int(user.partition(":")[2])
    if sec:
        c["securityContext"] = sec
    mounts = _mounts(paths, rec, volumes)
    if mounts:
        c["volumeMounts"] = mounts
    return c


def _mounts(paths: Paths, rec: Any, volumes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    vol_root = str(paths.volumes) + "/"
    out = []
    for m in rec.mounts:
        src, dest = str(m.get("source") or ""), m.get("destination")
        ro = "ro" in (m.get("options") or [])
        if m.get("type") == "tmpfs" or not dest:
            continue
        if src.startswith(vol_root):
            claim = src[len(vol_root):].split("/", 1)[0]
            vname = _dns_name(claim) + "-pvc"
            volumes[vname] = {"name": vname, "persistentVolumeClaim": {"claimName": claim}}
        else:
            vname = _dns_name(src.strip("/").replace("/", "-")) + "-host"
            import os

            kind = "Directory" if os.path.isdir(src) else "File"
            volumes[vname] = {"name": vname, "hostPath": {"path": src, "type": kind}}
        mount: dict[str, Any] = {"name": vname, "mountPath": dest}
        if ro:
            mount["readOnly"] = True
        out.append(mount)
    return out


def pod_doc(paths: Paths, name: str, members: list[Any], ports: list[str], *, hostname: str = "",
            labels: dict[str, str] | None = None, restart: str = "") -> dict[str, Any]:
    from rpod.humanize import parse_time

    volumes: dict[str, dict[str, Any]] = {}
    containers = []
    prefix = name + "-"
    for i, rec in enumerate(members):
        cname = rec.name[len(prefix):] if rec.name.startswith(prefix) else rec.name
        containers.append(container_doc(paths, rec, _dns_name(cname), ports if i == 0 else [], volumes))
    import datetime

    created = min((parse_time(r.created) for r in members), default=0)
    meta: dict[str, Any] = {
        "creationTimestamp": datetime.datetime.fromtimestamp(created, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "labels": {"app": _dns_name(name), **(labels or {})}, "name": _dns_name(name)}
    spec: dict[str, Any] = {"containers": containers}
    if hostname:
        spec["hostname"] = hostname
    if restart:
        spec["restartPolicy"] = restart
    if volumes:
        spec["volumes"] = list(volumes.values())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def pvc_doc(vol: Any) -> dict[str, Any]:
    ann = {"volume.podman.io/driver": "local"}
    for k, v in (vol.options or {}).items():
        ann[f"volume.podman.io/{k}"] = v
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"annotations": ann, "name": vol.name, **({"labels": dict(vol.labels)} if vol.labels else {})},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def service_doc(pod: dict[str, Any]) -> dict[str, Any] | None:
    ports = [p for c in pod["spec"]["containers"] for p in c.get("ports") or []]
    if not ports:
        return None
    name = pod["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"ports": [{"name": str(p["containerPort"]), "port": p["containerPort"],
                                "targetPort": p["containerPort"], "nodePort": p["hostPort"],
                                "protocol": p.get("protocol", "TCP")} for p in ports],
                     "selector": {"app": name}, "type": "NodePort"}}


_RESTART = {"always": "Always", "on-failure": "OnFailure", "no": "Never", "unless-stopped": "Always"}


def generate_docs(paths: Paths, refs: list[str], *, service: bool = False) -> list[dict[str, Any]]:
    """The documents for pods, containers (one pod for all of them) and volumes named by ``refs``."""
    from rpod.container.state import ContainerStore
    from rpod.pod.store import PodStore, members
    from rpod.volume.volumes import VolumeStore

    if not refs:
        raise UsageError("generate kube needs at least one container, pod or volume name or ID")
    pods, ctrs, vols = [], [], []
    cstore, pstore, vstore = ContainerStore(paths), PodStore(paths), VolumeStore(paths)
    for ref in refs:
        pod = pstore.lookup(ref)
        if pod is not None:
            pods.append(pod)
            continue
        try:
            ctrs.append(cstore.get(ref))
            continue
        except Exception:
            pass
        if vstore.exists(ref):
            vols.append(vstore.get(ref))
            continue
        raise UsageError(f"name or ID {ref!r} not found", exit_code=125)
    docs: list[dict[str, Any]] = [pvc_doc(v) for v in vols]
    pod_docs = []
    for pod in pods:
        infra = cstore.load(pod.infra_id) if pod.infra_id else None
        mem = sorted((m for m in members(paths, pod.id) if m.id != pod.infra_id), key=lambda r: r.created)
        if not mem:
            raise UsageError(f"pod {pod.name} only has an infra container: add containers to it first")
        restart = _RESTART.get(str(mem[0].options.restart or "").partition(":")[0], "")
        pod_docs.append(pod_doc(paths, pod.name, mem, infra.ports if infra else [], labels=pod.labels,
                                hostname=pod.hostname, restart=restart))
    if ctrs:
        name = ctrs[0].name + "-pod" if len(ctrs) == 1 else "+".join(c.name for c in ctrs)[:40] + "-pod"
        ports = [p for c in ctrs for p in c.ports]
        pod_docs.append(pod_doc(paths, name, ctrs, ports))
    for d in pod_docs:
        docs.append(d)
        if service:
            svc = service_doc(d)
            if svc:
                docs.append(svc)
    return docs


def generate_yaml(paths: Paths, refs: list[str], *, service: bool = False) -> str:
    import yaml

    docs = generate_docs(paths, refs, service=service)
    return HEADER + "---\n".join(yaml.safe_dump(d, sort_keys=False, default_flow_style=False) for d in docs)
