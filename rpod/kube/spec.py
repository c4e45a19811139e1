"""Kubernetes YAML → what ``kube play`` creates: pods (``PodOptions``), their containers
(``RunOptions``), named volumes (PVCs) and files for ConfigMap/Secret volumes.  Pure: reads
only the documents (and, for Secrets not in them, ``secret_lookup``); follows Podman 4.3.1
(``pkg/specgen/generate/kube``): container ``<pod>-<name>``, Deployment pods ``<name>-pod-<i>``,
``command`` → entrypoint, ``args`` → command, liveness probes → healthchecks (``|| exit 1``),
restartPolicy Always/OnFailure/Never → always/on-failure/no.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rpod.errors import UsageError

MAX_ANNOTATION = 63  # Podman's limit on an annotation's value (define.MaxKubeAnnotation)
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
KINDS = ("Pod", "Deployment", "DaemonSet", "Job", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service")


@dataclass
class PlayOptions:
    """``kube play`` flags."""

    start: bool = True
    replace: bool = False
    network: str | None = None
    publish: list[str] = field(default_factory=list)
    configmaps: list[str] = field(default_factory=list)  # extra ConfigMap YAML files
    log_driver: str | None = None
    log_opt: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)  # --annotation, on every container
    build: bool = False  # --build: build images from ./<image name>/Containerfile
    context_dir: str | None = None  # --context-dir: where those directories are
    service_container: bool = False  # --service-container


@dataclass
class VolumeFiles:
    """A ConfigMap/Secret volume: files to write under the pod's kube directory, then bind."""

    name: str
    files: dict[str, bytes]
    mode: int = 0o644


@dataclass
class ContainerPlan:
    opts: Any  # RunOptions
    init: bool = False
    file_mounts: list[tuple[str, str, bool]] = field(default_factory=list)  # (volume name, dest, read-only)
    create_paths: list[tuple[str, str]] = field(default_factory=list)  # hostPath *OrCreate: (kind, path)


@dataclass
class PodPlan:
    name: str
    pod: Any  # PodOptions
    containers: list[ContainerPlan] = field(default_factory=list)
    volume_files: dict[str, VolumeFiles] = field(default_factory=dict)


@dataclass
class Plan:
    volumes: list[dict[str, Any]] = field(default_factory=list)  # PVCs: {"name", "labels", "options"}
    pods: list[PodPlan] = field(default_factory=list)


def load_documents(text: str) -> list[dict[str, Any]]:
    import yaml  # PyYAML: only kube commands need it

    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        raise UsageError(f"unable to read YAML as Kube Pod: {e}") from None
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d:
            raise UsageError("unable to read kube YAML: a document has no \"kind\"")
        if d["kind"] == "List":
            docs += list(d.get("items") or [])
    return [d for d in docs if d.get("kind") != "List"]


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except ValueError as e:
        raise UsageError(f"invalid base64 in a Secret: {e}") from None


def secret_data(doc: dict[str, Any]) -> dict[str, bytes]:
    out = {k: _b64(str(v)) for k, v in (doc.get("data") or {}).items()}
    out.update({k: str(v).encode() for k, v in (doc.get("stringData") or {}).items()})
    return out


class Sources:
    """ConfigMaps and Secrets by name (from the documents, ``--configmap`` files, the secret store)."""

    def __init__(self, docs: list[dict[str, Any]], secret_lookup: Callable[[str], dict[str, bytes] | None]):
        self.configmaps = {d["metadata"]["name"]: {k: str(v) for k, v in (d.get("data") or {}).items()}
                           for d in docs if d.get("kind") == "ConfigMap"}
        self.secrets = {d["metadata"]["name"]: secret_data(d) for d in docs if d.get("kind") == "Secret"}
        self.secret_lookup = secret_lookup

    def configmap(self, name: str, optional: bool) -> dict[str, str] | None:
        cm = self.configmaps.get(name)
        if cm is None and not optional:
            raise UsageError(f"configmap {name} not found")
        return cm

    def secret(self, name: str, optional: bool) -> dict[str, bytes] | None:
        s = self.secrets.get(name)
        if s is None:
            s = self.secret_lookup(name)
        if s is None and not optional:
            raise UsageError(f"secret {name} not found")
        return s


def plan(docs: list[dict[str, Any]], opts: PlayOptions,
         secret_lookup: Callable[[str], dict[str, bytes] | None] = lambda _n: None) -> Plan:
    """What to create for ``docs`` (already loaded, ``--configmap`` documents included)."""
    src = Sources(docs, secret_lookup)
    out = Plan()
    for d in docs:
        kind = d.get("kind")
        meta = d.get("metadata") or {}
        if kind == "PersistentVolumeClaim":
            ann = meta.get("annotations") or {}
            options = {k.split("/", 1)[1]: v for k, v in ann.items()
                       if k.startswith("volume.podman.io/") and k.split("/", 1)[1] in ("uid", "gid", "device", "type", "o")}
            out.volumes.append({"name": meta.get("name"), "labels": dict(meta.get("labels") or {}), "options": options})
        elif kind == "Pod":
            for key, val in (meta.get("annotations") or {}).items():
                if len(str(val)) > MAX_ANNOTATION:
                    raise UsageError(f"invalid annotation {json.dumps(key)}={json.dumps(str(val))} value length "
                                     f"exceeds Kubernetetes max {MAX_ANNOTATION}")  # sic, Podman 4.3.1's spelling
            out.pods.append(pod_plan(meta.get("name") or "", d.get("spec") or {}, meta, opts, src))
        elif kind in ("Deployment", "DaemonSet", "Job"):
            name = meta.get("name")
            if not name:
                raise UsageError(f"{kind.lower()} does not have a name")
            template = (d.get("spec") or {}).get("template") or {}
            tmeta = {**(template.get("metadata") or {})}
            tmeta["annotations"] = {**(meta.get("annotations") or {}), **(tmeta.get("annotations") or {})}
            replicas = int((d.get("spec") or {}).get("replicas", 1) or 0) if kind == "Deployment" else 1
            for i in range(replicas):
                out.pods.append(pod_plan(f"{name}-pod-{i}", template.get("spec") or {}, tmeta, opts, src))
        elif kind not in KINDS:
            raise UsageError(f"invalid YAML kind: {kind!r}. [Pod Deployment PersistentVolumeClaim ConfigMap Secret] "
                             "are the only supported Kubernetes Kinds")
    return out


def pod_names(docs: list[dict[str, Any]]) -> list[str]:
    """The pod names ``docs`` make (for ``kube down`` and ``--replace``)."""
    names = []
    for d in docs:
        meta = d.get("metadata") or {}
        if d.get("kind") == "Pod":
            names.append(meta.get("name") or "")
        elif d.get("kind") in ("Deployment", "DaemonSet", "Job"):
            n = int((d.get("spec") or {}).get("replicas", 1) or 0) if d["kind"] == "Deployment" else 1
            names += [f"{meta.get('name')}-pod-{i}" for i in range(n)]
    return [n for n in names if n]


def pod_plan(name: str, spec: dict[str, Any], meta: dict[str, Any], opts: PlayOptions, src: Sources) -> PodPlan:
    from rpod.pod.create import PodOptions

    if not name:
        raise UsageError("pod does not have a name")
    publish = [*_host_ports(spec), *opts.publish]
    dns = spec.get("dnsConfig") or {}
    add_host = [f"{h}:{a['ip']}" for a in spec.get("hostAliases") or [] for h in a.get("hostnames") or []]
    network = "host" if spec.get("hostNetwork") else opts.network
    labels = [f"{k}={v}" for k, v in (meta.get("labels") or {}).items()]
    pod = PodOptions(name=name, publish=publish, network=network, hostname=spec.get("hostname"), labels=labels,
                     dns=list(dns.get("nameservers") or []), dns_search=list(dns.get("searches") or []),
                     dns_option=[o["name"] + (f":{o['value']}" if o.get("value") else "") for o in dns.get("options") or []],
                     add_host=add_host, share="+pid" if spec.get("shareProcessNamespace") else None,
                     exit_policy="stop")  # Podman 4.3.1: kube-played pods stop with their last container
    out = PodPlan(name, pod)
    volumes = _volumes(name, spec.get("volumes") or [], src, out)
    restart = RESTART.get(spec.get("restartPolicy") or "Always", "always")
    annotations = [f"{k}={v}" for k, v in {**(meta.get("annotations") or {}), **opts.annotations}.items()]
    seen: set[str] = set()
    for init, c in [(True, c) for c in spec.get("initContainers") or []] + [(False, c) for c in spec.get("containers") or []]:
        if c.get("name") in seen:
            raise UsageError(f"the pod {name!r} is invalid; duplicate container name {c.get('name')!r} detected")
        seen.add(c.get("name"))
        out.containers.append(_container(name, c, spec, volumes, src, opts, "no" if init else restart,
                                         annotations, init))
    if not out.containers:
        raise UsageError(f"pod {name} has no containers")
    return out


def _host_ports(spec: dict[str, Any]) -> list[str]:
    ports = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            # Podman 4.3.1: a port with only one side is published on the same number on the other
            host, ctr = p.get("hostPort") or p.get("containerPort"), p.get("containerPort") or p.get("hostPort")
            if host:
                ip = f"{p['hostIP']}:" if p.get("hostIP") else ""
                proto = (p.get("protocol") or "TCP").lower()
                ports.append(f"{ip}{host}:{ctr}/{proto}")
    return ports


def _volumes(pod: str, vols: list[dict[str, Any]], src: Sources, out: PodPlan) -> dict[str, tuple[str, str]]:
    """volume name → (kind, source): bind (a host path), volume (a named volume), anon, files."""
    res: dict[str, tuple[str, str]] = {}
    for v in vols:
        name = v.get("name")
        if "hostPath" in v:
            hp = v["hostPath"]
            kind = hp.get("type") or ""
            path = hp.get("path") or ""
            if kind in ("DirectoryOrCreate", "FileOrCreate", "Directory", "File", "Socket", "CharDevice",
                        "BlockDevice", ""):
                res[name] = ("bind:" + kind, path)
            else:
                raise UsageError(f"invalid HostPath type {kind!r}")
        elif "persistentVolumeClaim" in v:
            res[name] = ("volume", v["persistentVolumeClaim"]["claimName"])
        elif "emptyDir" in v:
            res[name] = ("anon", "")
        elif "configMap" in v or "secret" in v:
            is_cm = "configMap" in v
            ref = v["configMap"] if is_cm else v["secret"]
            ref_name = ref.get("name") if is_cm else ref.get("secretName")
            optional = bool(ref.get("optional"))
            data = src.configmap(ref_name, optional) if is_cm else src.secret(ref_name, optional)
            if data is None:
                res[name] = ("skip", "")
                continue
            raw = {k: (val.encode() if isinstance(val, str) else val) for k, val in data.items()}
            items = ref.get("items")
            files = {it.get("path") or it["key"]: raw[it["key"]] for it in items if it["key"] in raw} if items else raw
            mode = int(ref.get("defaultMode", 0o644))
            out.volume_files[name] = VolumeFiles(name, files, mode)
            res[name] = ("files", name)
        else:
            raise UsageError(f"volume {name}: unsupported volume source (use hostPath, persistentVolumeClaim, "
                             "emptyDir, configMap or secret)")
    return res


def _env(c: dict[str, Any], src: Sources, pod: str) -> list[str]:
    env: dict[str, str] = {}
    for ef in c.get("envFrom") or []:
        prefix = ef.get("prefix") or ""
        if "configMapRef" in ef:
            data = src.configmap(ef["configMapRef"]["name"], bool(ef["configMapRef"].get("optional"))) or {}
            env.update({prefix + k: v for k, v in data.items()})
        elif "secretRef" in ef:
            sdata = src.secret(ef["secretRef"]["name"], bool(ef["secretRef"].get("optional"))) or {}
            env.update({prefix + k: v.decode(errors="replace") for k, v in sdata.items()})
    for e in c.get("env") or []:
        if "valueFrom" not in e:
            env[e["name"]] = str(e.get("value", ""))
            continue
        vf = e["valueFrom"]
        value: str | None = None
        if "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            cm = src.configmap(ref["name"], bool(ref.get("optional")))
            if cm is not None and ref["key"] not in cm and not ref.get("optional"):
                raise UsageError(f"configmap {ref['name']} has no key {ref['key']}")
            value = (cm or {}).get(ref["key"])
        elif "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            sec = src.secret(ref["name"], bool(ref.get("optional")))
            if sec is not None and ref["key"] not in sec and not ref.get("optional"):
                raise UsageError(f"secret {ref['name']} has no key {ref['key']}")
            raw = (sec or {}).get(ref["key"])
            value = raw.decode(errors="replace") if raw is not None else None
        elif "fieldRef" in vf:
            value = {"metadata.name": pod, "metadata.namespace": "default"}.get(vf["fieldRef"].get("fieldPath", ""))
        if value is not None:
            env[e["name"]] = value
    return [f"{k}={v}" for k, v in env.items()]


def quantity_bytes(q: Any) -> int:
    """``128Mi``, ``1G``, ``500000`` → bytes."""
    m = re.fullmatch(r"([0-9.]+)([KMGTPE]i?|[kmgtpe])?", str(q).strip())
    if not m:
        raise UsageError(f"invalid memory quantity {q!r}")
    unit = m.group(2) or ""
    base = 1024 if unit.endswith("i") else 1000
    power = " KMGTPE".index(unit[:1].upper()) if unit else 0
    return int(float(m.group(1)) * base**power)


def quantity_cpus(q: Any) -> float:
    text = str(q).strip()
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _security(c: dict[str, Any], spec: dict[str, Any], run: Any) -> None:
    sc = c.get("securityContext") or {}
    psc = spec.get("securityContext") or {}
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    gid = sc.get("runAsGroup", psc.get("runAsGroup"))
    if uid is not None:
        run.user = f"{uid}:{gid}" if gid is not None else str(uid)
    caps = sc.get("capabilities") or {}
    run.cap_add = [str(x) for x in caps.get("add") or []]
    run.cap_drop = [str(x) for x in caps.get("drop") or []]
    run.read_only = bool(sc.get("readOnlyRootFilesystem"))
    run.privileged = bool(sc.get("privileged"))
    if sc.get("allowPrivilegeEscalation") is False:
        run.security_opt.append("no-new-privileges")
    run.group_add = [str(g) for g in psc.get("supplementalGroups") or []]


def _probe(c: dict[str, Any], run: Any, restart: str) -> None:
    probe = c.get("livenessProbe")
    if not probe:
        return
    if "exec" in probe:
        cmd = " ".join(probe["exec"].get("command") or [])
    elif "httpGet" in probe:
        h = probe["httpGet"]
        cmd = (f"curl -f {(h.get('scheme') or 'HTTP').lower()}://{h.get('host') or 'localhost'}:{h['port']}"
               f"{h.get('path') or '/'}")
    elif "tcpSocket" in probe:
        cmd = f"nc -z -v {probe['tcpSocket'].get('host') or 'localhost'} {probe['tcpSocket']['port']}"
    else:
        return
    run.health_cmd = f"{cmd} || exit 1"
    run.health_interval = f"{max(int(probe.get('periodSeconds') or 10), 1)}s"
    run.health_retries = max(int(probe.get("failureThreshold") or 3), 1)
    run.health_timeout = f"{max(int(probe.get('timeoutSeconds') or 1), 1)}s"
    run.health_start_period = f"{int(probe.get('initialDelaySeconds') or 0)}s"
    if restart in ("always", "on-failure"):
        run.health_on_failure = "restart"


def _container(pod: str, c: dict[str, Any], spec: dict[str, Any], volumes: dict[str, tuple[str, str]],
               src: Sources, opts: PlayOptions, restart: str, annotations: list[str], init: bool) -> ContainerPlan:
    from rpod.container.options import RunOptions

    if not c.get("image"):
        raise UsageError(f"container {c.get('name')} in pod {pod} has no image")
    run = RunOptions(image=c["image"], name=f"{pod}-{c['name']}", detach=True, restart=restart if restart != "no" else None,
                     tty=bool(c.get("tty")), interactive=bool(c.get("stdin")), annotations=list(annotations),
                     log_driver=opts.log_driver, log_opt=list(opts.log_opt))
    pull = {"Always": "always", "Never": "never", "IfNotPresent": "missing"}.get(c.get("imagePullPolicy") or "")
    if pull:
        run.pull = pull
    if c.get("command"):
        run.entrypoint = json.dumps([str(x) for x in c["command"]])
        run.command = []
    if c.get("args"):
        run.command = [str(x) for x in c["args"]]
    run.workdir = c.get("workingDir") or None
    run.env = _env(c, src, pod)
    _security(c, spec, run)
    limits = (c.get("resources") or {}).get("limits") or {}
    if "memory" in limits:
        run.memory = str(quantity_bytes(limits["memory"]))
    if "cpu" in limits:
        run.cpus = quantity_cpus(limits["cpu"])
    _probe(c, run, restart)
    plan_ = ContainerPlan(run, init=init)
    for vm in c.get("volumeMounts") or []:
        vname = vm.get("name")
        if vname not in volumes:
            raise UsageError(f"volume mount {vname} specified for container but not configured in volumes")
        kind, source = volumes[vname]
        dest = vm["mountPath"]
        ro = ":ro" if vm.get("readOnly") else ""
        if kind.startswith("bind:"):
            run.mounts.append(f"type=bind,source={source},destination={dest}" + (",ro" if ro else ""))
            if kind in ("bind:DirectoryOrCreate", "bind:FileOrCreate"):
                plan_.create_paths.append((kind[5:], source))
        elif kind == "volume":
            run.volumes.append(f"{source}:{dest}{ro}")
        elif kind == "anon":
            run.volumes.append(dest)
        elif kind == "files":
            plan_.file_mounts.append((source, dest, True))
    return plan_
