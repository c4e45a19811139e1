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
    """A name Kubernetes takes from a container/pod name: ``_`` and other signs become ``-`` (Podman
    drops ``_``); the case is kept, as Podman (its own tests expect it; lower-case names validate)."""
    out = re.sub(r"[^A-Za-z0-9-]", "-", name).strip("-")
    return out[:63] or "rpod"


# runtime-tools' default capability set, which Podman compares a container's with (capAddDrop)
_KUBE_DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                      "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                      "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")


def _capabilities(paths: Paths, rec: Any) -> dict[str, list[str]]:
    """``securityContext.capabilities`` as Podman writes it: the defaults the container lacks
    (``drop``) and what it has beyond them (``add``), from its OCI spec."""
    import json

    from rootless import ctrfiles
    from rpod.container.state import ContainerStore

    try:
        with open(ContainerStore(paths).dir(rec.id) / ctrfiles.SPEC) as f:
            caps = ((json.load(f).get("process") or {}).get("capabilities") or {})
    except (OSError, ValueError):
        caps = {}
    have = list(dict.fromkeys(c for k in ("ambient", "bounding", "effective", "inheritable", "permitted")
                              for c in caps.get(k) or []))
    out = {"add": [c for c in have if c not in _KUBE_DEFAULT_CAPS],
           "drop": [c for c in _KUBE_DEFAULT_CAPS if c not in have]}
    return {k: v for k, v in out.items() if v}


def container_annotations(rec: Any, name: str, pod_id: str = "") -> dict[str, str]:
    """The annotations Podman puts in a container's spec, keyed ``KEY/NAME`` on the pod."""
    opts = rec.options
    ann = {"io.kubernetes.cri-o.TTY": "true" if opts.tty else "false",
           "io.podman.annotations.autoremove": "TRUE" if opts.rm else "FALSE",
           "io.podman.annotations.init": "TRUE" if opts.init else "FALSE",
           "io.podman.annotations.privileged": "TRUE" if opts.privileged else "FALSE",
           "io.podman.annotations.publish-all": "TRUE" if opts.publish_all else "FALSE"}
    if pod_id:
        ann |= {"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": pod_id}
    for item in opts.annotations or []:
        k, _, v = item.partition("=")
        ann[k] = v
    return {f"{k}/{name}": v[:63] for k, v in ann.items()}


def _image_config(paths: Paths, rec: Any) -> dict[str, Any]:
    from rpod.image.store import ImageStore

    store = ImageStore(paths)
    try:
        img = store.get(rec.image_id)
        cfg = store.config(img) if img else {}
    except Exception:
        return {}
    return cfg.get("config") or {}


def _command(opts: dict[str, Any], image: dict[str, Any]) -> dict[str, list[str]]:
    """Podman's ``command``/``args``: with an entrypoint (the container's, else the image's) it is
    ``command`` and the command ``args``; else the command is ``command``; a ``command`` equal to
    the image's Cmd or Entrypoint is left out."""
    from rpod.container.options import parse_entrypoint

    entry = parse_entrypoint(opts.get("entrypoint")) if opts.get("entrypoint") is not None else None
    if entry is None:
        entry = list(image.get("Entrypoint") or [])
    cmd = list(opts.get("command") or []) or ([] if opts.get("entrypoint") is not None else list(image.get("Cmd") or []))
    out = {"command": entry, "args": cmd} if entry else {"command": cmd}
    if out["command"] in (list(image.get("Cmd") or []), list(image.get("Entrypoint") or [])):
        del out["command"]
    return {k: v for k, v in out.items() if v}


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
    from rpod.records import asdict

    opts = asdict(rec.options)
    image = _image_config(paths, rec)
    c: dict[str, Any] = {"name": name, "image": rec.image_name, **_command(opts, image)}
    if opts.get("workdir"):
        c["workingDir"] = opts["workdir"]
    image_env = set(image.get("Env") or [])
    env = [e for e in rec.env if e not in image_env and e.partition("=")[0] not in _DEFAULT_ENV]
    if env:
        c["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in env)]
    if ports:
        c["ports"] = _ports(ports)
    c["resources"] = {}
    if opts.get("tty"):
        c["tty"] = True
    if opts.get("interactive"):
        c["stdin"] = True
    sec: dict[str, Any] = {}
    if not opts.get("privileged"):
        caps = _capabilities(paths, rec)
        if caps:
            sec["capabilities"] = caps
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
            labels: dict[str, str] | None = None, restart: str = "", pod_id: str = "") -> dict[str, Any]:
    """A Pod document; one made from a pod (``pod_id``) has Podman's ``status: {}``."""
    from rpod.humanize import parse_time

    volumes: dict[str, dict[str, Any]] = {}
    containers = []
    annotations: dict[str, str] = {}
    prefix = name + "-"
    for i, rec in enumerate(members):
        cname = rec.name[len(prefix):] if rec.name.startswith(prefix) else rec.name
        annotations |= container_annotations(rec, _dns_name(cname), pod_id)
        containers.append(container_doc(paths, rec, _dns_name(cname), ports if i == 0 else [], volumes))
    import datetime

    created = min((parse_time(r.created) for r in members), default=0)
    meta: dict[str, Any] = {
        "annotations": dict(sorted(annotations.items())),
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
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if pod_id:
        doc["status"] = {}
    return doc


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
        restart = _RESTART.get(str(mem[0].options.restart or "").partition(":")[0], "Never")
        hostname = pod.hostname or (pod.name if "uts" in pod.share and pod.infra else "")
        pod_docs.append(pod_doc(paths, pod.name, mem, infra.ports if infra else [], labels=pod.labels,
                                hostname=hostname, restart=restart, pod_id=pod.id))
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
