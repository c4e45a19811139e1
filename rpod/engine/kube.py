"""``kube play`` / ``kube down`` / ``generate kube``: Kubernetes YAML in and out.

``play`` creates the PVCs' named volumes, each pod (``rpod.pod.create``) with its ConfigMap/Secret
volume files under ``<root>/kube/<pod id>/`` (bound read-only), its containers, runs the init
containers to completion and starts the pod (unless ``start=False``).  ``down`` stops and removes
the pods a YAML made (``force`` also its PVC volumes).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpod.engine.types import paths_or_default
from rpod.errors import RpodError, UsageError
from rpod.kube.spec import PlayOptions, load_documents, plan, pod_names, secret_data
from rpod.paths import Paths

__all__ = ["DownReport", "PlayOptions", "PlayReport", "down", "generate", "play", "read_source"]


@dataclass
class PodPlayReport:
    id: str
    containers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class PlayReport:
    volumes: list[str] = field(default_factory=list)
    pods: list[PodPlayReport] = field(default_factory=list)


@dataclass
class DownReport:
    stopped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def read_source(source: str) -> str:
    """A YAML file, ``-`` (stdin) or an http(s) URL."""
    import sys

    if source == "-":
        return sys.stdin.read()
    if source.startswith(("http://", "https://")):
        import requests

        try:
            r = requests.get(source, timeout=30)
            r.raise_for_status()
        except requests.RequestException as e:
            raise RpodError(f"fetching {source}: {e}") from None
        return r.text
    try:
        with open(source, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"{e.strerror}: {source}") from None


def _secret_lookup(p: Paths) -> Any:
    def lookup(name: str) -> dict[str, bytes] | None:
        from rpod.secret.store import SecretStore

        store = SecretStore(p)
        rec = store.lookup(name)
        if rec is None:
            return None
        data = store.data(rec)
        with contextlib.suppress(Exception):
            import yaml

            doc = yaml.safe_load(data)
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                return secret_data(doc)
        return {name: data}

    return lookup


def play(text: str, opts: PlayOptions, paths: Paths | None = None, emit: Any = None) -> PlayReport:
    """Create (and start) what the YAML ``text`` describes (``emit``: build progress lines)."""
    from rpod.engine import volumes as vol_engine

    p = paths_or_default(paths)
    docs = load_documents(text)
    for path in opts.configmaps:
        docs += [d for d in load_documents(read_source(path)) if d.get("kind") == "ConfigMap"]
    if opts.replace:
        down(text, paths=p)
    if opts.service_container and not opts.start:
        raise UsageError("running a service container requires starting the pod(s)")
    the_plan = plan(docs, opts, _secret_lookup(p))
    _build_images(p, docs, opts, emit or (lambda _line: None))
    report = PlayReport()
    for v in the_plan.volumes:
        vol_engine.create(vol_engine.CreateOptions(name=v["name"], labels=v["labels"], options=v["options"],
                                                   ignore=True), p)
        report.volumes.append(v["name"])
    service = _service_container(p, text, opts.replace) if opts.service_container and the_plan.pods else ""
    for pp in the_plan.pods:
        report.pods.append(_play_pod(p, pp, opts, service))
    return report


def _service_container(p: Paths, text: str, replace: bool) -> str:
    """Podman's ``--service-container``: a catatonit container named after the YAML's digest
    (``<12 hex>-service``), without network, started before the pods and stopped after them; the
    pods record it (``rpod.pod.ops`` starts, stops and removes it with them)."""
    import hashlib

    from rpod.container import lifecycle
    from rpod.container.create import create as create_container
    from rpod.container.options import RunOptions
    from rpod.container.state import ContainerStore
    from rpod.pod.pause import INFRA_COMMAND, ensure_pause_image

    name = hashlib.sha256(text.encode()).hexdigest()[:12] + "-service"
    if replace:
        with contextlib.suppress(RpodError):
            lifecycle.remove(p, ContainerStore(p).get(name), force=True, timeout=0)
    run = RunOptions(image=ensure_pause_image(p), command=list(INFRA_COMMAND), entrypoint="", name=name,
                     pull="never", network="none", is_service=True)
    return create_container(p, run).id


def _build_images(p: Paths, docs: list[dict[str, Any]], opts: PlayOptions, emit: Any) -> None:
    """Podman's ``--build``: an image whose name (last path part, no tag) is a directory of the context
    (``--context-dir``, else the current one) with a Containerfile/Dockerfile is built and tagged with
    the image's name — always with ``--build``, else only when the image is not in the store."""
    from rpod.engine import builds, images
    from rpod.engine.builds import CONTAINERFILE_NAMES

    base = Path(opts.context_dir or os.getcwd())
    for image in dict.fromkeys(_images(docs)):
        prefix = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
        found = next((base / prefix / n for n in CONTAINERFILE_NAMES if (base / prefix / n).is_file()), None)
        if found is None or not (opts.build or not images.exists(image, paths=p)):
            continue
        context, text, cf_path, _ = builds.prepare_context(builds.BuildRequest(context=str(found.parent),
                                                                               file=str(found)), p)
        builds.build(builds.BuildOptions(context=context, containerfile=text, containerfile_path=cf_path,
                                         tags=builds.normalize_names([image]), commit_name=image), emit, p)


def _images(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for d in docs:
        spec = d.get("spec") or {}
        if d.get("kind") in ("Deployment", "DaemonSet", "Job"):
            spec = (spec.get("template") or {}).get("spec") or {}
        elif d.get("kind") != "Pod":
            continue
        out += [c["image"] for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
                if c.get("image")]
    return out


def _play_pod(p: Paths, pp: Any, opts: PlayOptions, service: str) -> PodPlayReport:
    from rpod.container.create import create as create_container
    from rpod.pod import ops
    from rpod.pod.create import apply as join_pod
    from rpod.pod.create import create_pod
    from rpod.pod.store import PodStore

    pod = create_pod(p, pp.pod)
    if service:
        pod.service_container_id = service
        PodStore(p).save(pod)
    out = PodPlayReport(pod.id)
    try:
        kdir = p.root / "kube" / pod.id
        for name, vf in pp.volume_files.items():
            _write_files(kdir / name, vf.files, vf.mode)
        inits = []
        for cp in pp.containers:
            run = cp.opts
            run.pod = pod.id
            join_pod(p, run)  # the pod's namespaces, volumes and host name
            for kind, path in cp.create_paths:
                _create_host_path(kind, path)
            for vname, dest, ro in cp.file_mounts:
                run.mounts.append(f"type=bind,source={kdir / vname},destination={dest}" + (",ro" if ro else ""))
            rec = create_container(p, run)
            (inits if cp.init else out.containers).append(rec.id)
        if not opts.start:
            return out
        for cid in inits:
            _run_init(p, cid)
        for rec, err in ops.start(p, pod):
            out.errors.append(f"starting container {rec.id}: {err}")
    except BaseException:
        with contextlib.suppress(Exception):
            ops.remove(p, pod, force=True, timeout=0)
        raise
    return out


def _run_init(p: Paths, cid: str) -> None:
    """Run an init container to completion, then remove it (Podman's default ``once`` type)."""
    from rpod.container import lifecycle
    from rpod.container.state import ContainerStore

    store = ContainerStore(p)
    rec = store.get(cid)
    started = lifecycle.start(p, rec, None)
    if started.sync:
        started.sync.close()
    st = lifecycle.wait_exit(p, cid)
    if st.exit_code != 0:
        raise RpodError(f"init container {rec.name} exited with code {st.exit_code}")
    lifecycle.remove(p, rec, force=True, volumes=True)


def _write_files(d: Path, files: dict[str, bytes], mode: int) -> None:
    from rpod.storefile import atomic_write

    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    for rel, data in files.items():
        if rel.startswith("/") or ".." in rel.split("/"):
            raise UsageError(f"invalid path {rel!r} in a ConfigMap/Secret volume")
        target = d / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, mode)
        os.chmod(target, mode)


def _create_host_path(kind: str, path: str) -> None:
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        open(path, "a").close()  # noqa: SIM115


def down(text: str, *, force: bool = False, paths: Paths | None = None) -> DownReport:
    """Stop and remove the pods the YAML made (``force``: its PVC volumes too)."""
    from rpod.pod import ops
    from rpod.pod.store import PodStore

    p = paths_or_default(paths)
    docs = load_documents(text)
    report = DownReport()
    store = PodStore(p)
    for name in pod_names(docs):
        pod = store.lookup(name)
        if pod is None:
            continue
        try:
            ops.stop(p, pod, timeout=10)
            report.stopped.append(pod.id)
            ops.remove(p, pod, force=True, timeout=0)
            report.removed.append(pod.id)
        except RpodError as e:
            report.errors.append(e)
    if force:
        from rpod.engine import volumes as vol_engine

        for d in docs:
            if d.get("kind") == "PersistentVolumeClaim":
                name = (d.get("metadata") or {}).get("name")
                with contextlib.suppress(RpodError):
                    for r in vol_engine.remove([name], force=True, paths=p):
                        if getattr(r, "error", None) is None:
                            report.volumes.append(name)
    return report


def generate(refs: list[str], *, service: bool = False, paths: Paths | None = None) -> str:
    """``generate kube``: YAML for pods, containers and volumes (with a Service for ``service``)."""
    from rpod.kube.generate import generate_yaml

    return generate_yaml(paths_or_default(paths), refs, service=service)
