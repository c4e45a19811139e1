"""Creating a pod (its record and infra container) and putting a container into one (``--pod``).

The infra container runs ``catatonit -P`` (``rpod.pod.pause``) and owns the namespaces the pod
shares (``--share``, default cgroup,ipc,net,uts): it gets the pod's network, published ports,
DNS and /etc/hosts entries and host name (the pod's name unless ``--hostname``), and every
member joins those namespaces (``container:INFRA``), which makes the infra a dependency of each
member (started first, removed last).  Without an infra (``--infra=false``) a pod only groups
containers, as podman-compose's pods do.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from rpod.errors import RegistryError, RpodError, UsageError
from rpod.paths import Paths
from rpod.pod.store import DEFAULT_SHARE, PodRecord, PodStore, parse_share

NS_FLAGS = (("ipc", "ipc"), ("uts", "uts"), ("pid", "pid"), ("cgroup", "cgroupns"))


@dataclass
class PodOptions:
    """The flags of ``rpod pod create`` (Podman's spelling and defaults)."""

    name: str | None = None
    infra: bool = True
    infra_image: str | None = None
    infra_command: str | None = None  # JSON array or one word
    infra_name: str | None = None
    infra_conmon_pidfile: str | None = None  # the infra's monitor pid (a --new unit's PIDFile=)
    share: str | None = None
    share_parent: bool = True
    publish: list[str] = field(default_factory=list)
    network: str | None = None
    network_alias: list[str] = field(default_factory=list)
    ip: str | None = None
    mac_address: str | None = None
    hostname: str | None = None
    labels: list[str] = field(default_factory=list)
    userns: str = ""
    add_host: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    exit_policy: str = "continue"
    pod_id_file: str | None = None
    replace: bool = False
    create_command: list[str] = field(default_factory=list)


def create_pod(paths: Paths, opts: PodOptions) -> PodRecord:
    """Create the pod record and (unless ``--infra=false``) its infra container."""
    from rpod.container.names import generate_name
    from rpod.container.options import parse_entrypoint, parse_key_values
    from rpod.container.state import new_id
    from rpod.storefile import atomic_write

    if opts.exit_policy not in ("continue", "stop"):
        raise UsageError(f'running pod create option: invalid pod exit policy: "{opts.exit_policy}"')
    share = parse_share(opts.share) if opts.share is not None else list(DEFAULT_SHARE)
    if not opts.infra:
        if opts.share and share:
            raise UsageError("infra container is required for namespace sharing: you must not use --share "
                             "when using --infra=false", hint="use --share= (empty) or keep the infra container")
        if opts.publish:
            raise UsageError("you must have an infra container to publish port bindings to the host")
        if opts.network:
            raise UsageError("cannot set a network without an infra container")
        share = []
    store = PodStore(paths)
    paths.ensure()
    name = opts.name or generate_name()
    if opts.replace and store.name_owner(name):
        from rpod.pod import ops

        ops.remove(paths, store.get(name), force=True, timeout=0)
    labels = parse_key_values(opts.labels, "--label")
    pod = PodRecord(id=new_id(), name=name, created=_now(), labels=labels, infra=opts.infra, share=share,
                    share_parent=opts.share_parent, hostname=opts.hostname or "", exit_policy=opts.exit_policy,
                    infra_image=opts.infra_image or (_conf_infra_image() if opts.infra else ""),
                    infra_command=parse_entrypoint(opts.infra_command) or [],
                    create_command=list(opts.create_command),
                    infra_options={"network": opts.network, "publish": list(opts.publish),
                                   "dns": list(opts.dns), "add_host": list(opts.add_host),
                                   "volumes": list(opts.volumes), "userns": opts.userns,
                                   "dns_search": list(opts.dns_search), "dns_option": list(opts.dns_option),
                                   "network_alias": list(opts.network_alias), "share": opts.share})
    store.create(pod)
    try:
        if opts.infra:
            pod.infra_id = _create_infra(paths, pod, opts).id
            store.save(pod)
        if opts.pod_id_file:
            atomic_write(_abs(opts.pod_id_file), pod.id.encode(), 0o644)
    except BaseException:
        with contextlib.suppress(Exception):
            from rpod.pod import ops

            ops.remove(paths, pod, force=True, timeout=0)
        raise
    from rpod.events import record

    record(paths, "pod", "create", id=pod.id, name=pod.name)
    return pod


def clone_options(pod: PodRecord, name: str | None) -> PodOptions:
    """``pod clone``: the options ``pod`` was created with, under a new name (PODNAME-clone)."""
    io = pod.infra_options or {}
    return PodOptions(name=name or f"{pod.name}-clone", infra=pod.infra, infra_image=pod.infra_image or None,
                      share=io.get("share"), publish=list(io.get("publish") or []), network=io.get("network"),
                      network_alias=list(io.get("network_alias") or []), hostname=pod.hostname or None,
                      labels=[f"{k}={v}" for k, v in pod.labels.items()], userns=io.get("userns") or "",
                      add_host=list(io.get("add_host") or []), dns=list(io.get("dns") or []),
                      dns_search=list(io.get("dns_search") or []), dns_option=list(io.get("dns_option") or []),
                      volumes=list(io.get("volumes") or []), exit_policy=pod.exit_policy)


def _abs(path: str) -> Any:
    from pathlib import Path

    return Path(os.path.abspath(path))


def _now() -> str:
    from rootless.monitor import exitfile

    return exitfile.iso_now()


def _create_infra(paths: Paths, pod: PodRecord, opts: PodOptions) -> Any:
    from rpod.container.create import create as create_container
    from rpod.container.options import RunOptions
    from rpod.pod.pause import ensure_pause_image, infra_spec

    image, command = infra_spec(pod)
    if not pod.infra_image:
        ensure_pause_image(paths)
    run = RunOptions(image=image, command=command, name=opts.infra_name or f"{pod.id[:12]}-infra",
                     pull="missing" if pod.infra_image else "never", pod=pod.id,
                     hostname=(opts.hostname or pod.name) if "uts" in pod.share else opts.hostname,
                     network=opts.network if "net" in pod.share else "none", publish=list(opts.publish),
                     network_alias=list(opts.network_alias), ip=opts.ip, mac_address=opts.mac_address,
                     dns=list(opts.dns), dns_search=list(opts.dns_search), dns_option=list(opts.dns_option),
                     add_host=list(opts.add_host), userns=opts.userns,
                     ipc="shareable" if "ipc" in pod.share else None,
                     conmon_pidfile=os.path.abspath(opts.infra_conmon_pidfile) if opts.infra_conmon_pidfile else None)
    if command:  # --infra-command (or catatonit -P) is the infra's entrypoint, as Podman
        import json

        run.entrypoint, run.command = json.dumps(command), []
    elif pod.infra_image:
        run.command = []
    try:
        return create_container(paths, run)
    except RegistryError as e:  # Podman names the image source first
        raise RegistryError(f"initializing source docker://{image}: {e.message}", hint=e.hint) from None


def _conf_infra_image() -> str:
    from rpod.pod.pause import conf_infra_image

    return conf_infra_image()


def _read_id_file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise UsageError(f"reading pod ID file: {e.strerror}: {path}") from None


def apply(paths: Paths, opts: Any) -> PodRecord:
    """``--pod NAME|new:NAME`` / ``--pod-id-file``: put ``opts`` (``RunOptions``) into the pod."""
    store = PodStore(paths)
    ref = opts.pod or _read_id_file(opts.pod_id_file)
    if ref.startswith("new:"):
        existing = store.lookup(ref[4:])
        pod = existing or create_pod(paths, PodOptions(name=ref[4:], publish=list(opts.publish),
                                                       network=opts.network, hostname=opts.hostname))
        if existing is None:  # given to the new pod's infra, as Podman does
            opts.publish, opts.network, opts.hostname = [], None, None
    else:
        pod = store.lookup(ref)
        if pod is None:
            raise RpodError(f"no pod with name or ID {ref} found: no such pod")
    opts.pod = pod.id
    if not pod.infra or not pod.infra_id:  # no infra, or the infra itself being created
        return pod
    infra = pod.infra_id
    if "net" in pod.share:
        if opts.publish or opts.publish_all:
            raise UsageError("invalid config provided: published or exposed ports must be defined when the "
                             "pod is created: network cannot be configured when it is shared with a pod")
        if opts.network and opts.network not in ("bridge", "private") and not opts.network.startswith("container:"):
            raise UsageError("invalid config provided: networks must be defined when the pod is created: "
                             "network cannot be configured when it is shared with a pod")
        # a host-network infra has no namespace of its own to join (the host's is not the user's to enter)
        opts.network = "host" if (pod.infra_options or {}).get("network") == "host" else f"container:{infra}"
    for kind, flag in NS_FLAGS:
        if kind in pod.share and not getattr(opts, flag):
            setattr(opts, flag, f"container:{infra}")
    if "uts" in pod.share:
        if opts.hostname:
            raise UsageError("invalid config provided: cannot set hostname when joining the pod UTS namespace: "
                             "invalid configuration")
        opts.hostname = pod.hostname or pod.name
    opts.volumes = [*(pod.infra_options.get("volumes") or []), *opts.volumes]
    return pod
