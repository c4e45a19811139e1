"""``create``: the record, the writable layer, the /etc files and the OCI bundle of a new
container; nothing runs (``rpod.container.lifecycle.start`` starts it)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rpod.container.chown import chown_in_userns
from rpod.container.lifecycle import _now_iso, remove, resolve_runtime
from rpod.container.options import RunOptions, parse_entrypoint, parse_key_values, parse_signal
from rpod.container.state import ContainerRecord, ContainerStore, new_id
from rpod.errors import RpodError, UsageError
from rpod.events import container_event
from rpod.log import debug
from rpod.paths import Paths
from rpod.records import asdict, record


def create(paths: Paths, opts: RunOptions, *, quiet_pull: bool = True,
           create_command: list[str] | None = None, cid: str | None = None) -> ContainerRecord:
    """Create a container from ``opts`` (pulling the image per ``--pull``); nothing is started.
    ``create_command`` is the CLI argv, kept for ``inspect`` and ``generate systemd --new``;
    ``cid`` an id chosen beforehand (``rpod run``'s early monitor has it), else a new one."""
    from rpod.image.pull import ensure_image
    from rpod.image.store import ImageStore

    _check(opts)
    if not opts.userns and not opts.pod and not opts.uidmap and not opts.gidmap:
        opts.userns = _conf_setting("containers", "userns")  # containers.conf's default (Podman's)
    store = ContainerStore(paths)
    paths.ensure()
    from rpod.container import namespaces

    namespaces.resolve(paths, opts)  # container: targets and --requires by id
    if opts.replace and opts.name:
        owner = store.name_owner(opts.name)
        if owner:
            with contextlib.suppress(RpodError):
                remove(paths, store.get(owner), force=True, timeout=0)
    image = ensure_image(paths, opts.image, opts.pull)
    debug(f"image {image.short_id} resolved")
    images = ImageStore(paths)
    src = _Source(image, images.config(image), images.layer_dirs(image))
    cid = cid or new_id()
    labels = {**(src.inner.get("Labels") or {}), **parse_key_values(opts.labels, "--label")}
    record = store.create(ContainerRecord(  # no --name: the store picks a free one under its lock
        id=cid, name=opts.name or "", image_id=image.id, image_name=_given_name(image.names, opts.image),
        created=_now_iso(), options=RunOptions.from_dict(asdict(opts)), labels=labels, ports=list(opts.publish),
        create_command=list(create_command or [])))
    container_event(paths, record, "create")
    try:
        _make_bundle(paths, store, record, opts, src)
        store.save(record)
        if opts.cidfile:
            with open(opts.cidfile, "x") as f:
                f.write(cid)
    except BaseException:
        with contextlib.suppress(Exception):
            store.remove(record)
        raise
    return record


@record
class _Source:
    """The image a container is created from."""

    image: Any  # rpod.image.store.ImageRecord
    config: dict[str, Any]  # its OCI image config
    layer_dirs: list[Path]  # lowest first

    @property
    def inner(self) -> dict[str, Any]:
        return self.config.get("config") or {}


def _given_name(names: list[str], given: str) -> str:
    """The image's name the user's reference resolved to (Podman keeps the name given at create:
    ``ps``, ``auto-update``), else its first name, else the reference itself."""
    wanted = [given] if ":" in given.rsplit("/", 1)[-1] or "@" in given else [given, f"{given}:latest"]
    for name in names:
        if any(name == w or name.endswith("/" + w) for w in wanted):
            return name
    return names[0] if names else given


def _check(opts: RunOptions) -> None:
    """What can be refused before anything is pulled or written."""
    opts.validate()
    if any(lbl.partition("=")[::2] in (("io.containers.autoupdate", "registry"), ("io.containers.autoupdate", "image"))
           for lbl in opts.labels):
        from rpod.image.reference import validate_autoupdate_reference

        validate_autoupdate_reference(opts.image)
    if opts.runtime:
        resolve_runtime(opts.runtime)
    if opts.cidfile and os.path.exists(opts.cidfile):
        raise UsageError(f"container id file exists: {opts.cidfile}", hint="remove it or choose another --cidfile")


def _make_bundle(paths: Paths, store: ContainerStore, record: ContainerRecord, opts: RunOptions,
                 src: _Source) -> None:
    """The writable layer, the network plan, the /etc files, the volumes and ``config.json``;
    fills ``record`` with what the bundle says (the caller saves it)."""
    from rootless.subid import default_mapping
    from rpod.container import idmaps, rootfs, service
    from rpod.container.ocispec import SpecContext, build_spec
    from rpod.container.users import layer_lookup
    from rpod.hostfacts import overlay_driver
    from rpod.network import plan as netplan
    from rpod.storefile import atomic_write_json
    from rpod.volume.volumes import VolumeStore, parse_all, resolve_mounts

    cid, name = record.id, record.name
    driver, err = overlay_driver(paths)
    if not driver:
        raise RpodError(f"no overlay driver works: {err}",
                        hint="use a kernel >= 5.11 (overlay with userxattr) or install fuse-overlayfs")
    mapping = default_mapping()
    maps = idmaps.for_options(opts, mapping)
    reqs = parse_all(opts.volumes, opts.mounts, opts.tmpfs)
    home = _keep_id_home(opts, src, [r.destination for r in reqs])
    mount_point, overlay = rootfs.prepare(paths, cid, _mount_layers(paths, opts, src.layer_dirs, maps, home),
                                          driver, maps)
    cdir = store.dir(cid)
    net = netplan.plan(paths, opts, src.config, lambda ref: store.get(ref).id)
    hostname = opts.hostname or cid[:12]
    etc = _etc_files(paths, cdir, opts, net, hostname, record, src)
    reqs += _volumes_from(paths, store, opts.volumes_from, reqs) if opts.volumes_from else []
    reqs += _image_volumes(src, reqs, opts.image_volume or _conf_image_volume_mode())
    volumes = VolumeStore(paths)
    mounts, used = resolve_mounts(reqs, volumes)
    secret_mounts, secret_env, secret_owners = _secrets(paths, opts, cdir)
    from rpod.container.namespaces import spec_modes

    ctx = SpecContext(
        container_id=cid, rootfs=str(mount_point), name=name, overlay=overlay,
        uid_mappings=maps.host_uid_map(mapping) if maps else mapping.uid_map_oci(),
        gid_mappings=maps.host_gid_map(mapping) if maps else mapping.gid_map_oci(), network=net.spec_network,
        netns_path=net.ns_path or ("/proc/0/ns/net" if net.mode == "container" else None),
        ns_modes=spec_modes(opts), hosts_file=str(etc.hosts), resolv_conf_file=str(etc.resolv_conf), hostname_file=str(etc.hostname),
        containerenv_file=str(etc.containerenv) if etc.containerenv else None, mounts=mounts,
        passwd_lookup=layer_lookup(list(reversed(src.layer_dirs))), keep_id_home=home,
        localtime_file=_localtime(opts.tz, cdir / ctrfiles.USERDATA) if opts.tz else None,
    )
    spec = build_spec(opts, src.config, ctx)
    if opts.ipc == "shareable":
        from rpod.container.namespaces import shared_shm_dir, use_shared_shm

        use_shared_shm(spec, shared_shm_dir(paths, cid))
    if secret_mounts:  # after the user's mounts, so /run/secrets/NAME is not hidden by them
        spec["mounts"] = [*spec["mounts"], *secret_mounts]
    linux = spec.get("linux") or {}
    if maps is not None and not maps.maps_user() and (cdir / ctrfiles.USERDATA / "secrets").is_dir():
        # the container's root is a stranger to the user: it gets the copies, and a way to them
        (cdir / ctrfiles.USERDATA / "secrets").chmod(0o711)
        given = {copy for copy, _, _ in secret_owners}
        rootfs.give_to_container_root([Path(m["source"]) for m in secret_mounts
                                       if "/secrets/" in m.get("source", "") and m["source"] not in given], maps)
    for copy, uid, gid in secret_owners:  # uid=/gid=: owned by those ids as the container sees them
        chown_in_userns([copy], uid, gid, linux.get("uidMappings") or [], linux.get("gidMappings") or [],
                         what="--secret")
    service.adjust_spec(spec, opts, cdir)
    record.healthcheck = service.resolve_healthcheck(opts, src.config)
    warnings = _drop_unenforceable_resources(spec, opts)
    _prepare_volumes(reqs, mounts, used, volumes, spec, layer_dirs=src.layer_dirs, scratch=cdir, driver=driver)
    atomic_write_json(cdir / ctrfiles.SPEC, spec)
    debug(f"container {cid[:12]}: bundle written")
    _fill_record(record, opts, spec, src, hostname, mounts, warnings)
    if secret_env:  # the values stay out of container.json
        record.env = [e for e in record.env if e not in secret_env]
    netplan.save(cdir, net)
    record.ports = net.ports
    record.warnings += net.warnings
    for w in net.warnings:
        sys.stderr.write(f"{w}\n")  # Podman prints a spec's warnings as plain lines


def _secrets(paths: Paths, opts: RunOptions, cdir: Path
             ) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, int, int]]]:
    """``--secret``: bind mounts of copies in the container's directory, and ``K=V`` for ``type=env``
    (added to ``opts.env`` for the spec only: the record keeps the options as given)."""
    defaults = _default_mounts()
    if not opts.secrets:
        return defaults, [], []
    from rpod.secret.store import apply as apply_secrets

    mounts, env, owners = apply_secrets(paths, opts.secrets, cdir / ctrfiles.USERDATA / "secrets")
    opts.env = [*opts.env, *env]
    return [*defaults, *mounts], env, owners


def _volumes_from(paths: Paths, store: Any, refs: list[str], reqs: list[Any]) -> list[Any]:
    """``--volumes-from CTR[:ro|rw]``: CTR's volumes (by name) and bind mounts at the same places."""
    import posixpath

    from rpod.volume.volumes import MountRequest

    taken = {posixpath.normpath(r.destination) for r in reqs}
    out = []
    for ref in refs:
        name, _, mode = ref.partition(":")
        if mode not in ("", "ro", "rw", "z", "Z"):
            raise UsageError(f"invalid options {mode!r} for --volumes-from {name}: use ro or rw")
        for m in store.get(name).mounts or []:
            dst = posixpath.normpath(m.get("destination") or "")
            if m.get("type") != "bind" or dst in taken or not m.get("source"):
                continue
            taken.add(dst)
            given = [o for o in m.get("options") or [] if o not in ("ro", "rw")]
            ro = mode == "ro" or (mode != "rw" and "ro" in (m.get("options") or []))
            src = m["source"]
            vol = Path(src).parent.name if src.startswith(f"{paths.volumes}/") and src.endswith("/_data") else ""
            if vol:
                out.append(MountRequest("volume", dst, vol, ["ro"] if ro else [], copy_up=False))
            else:
                out.append(MountRequest("bind", dst, src, [*given, *(["ro"] if ro else [])]))
    return out


def _image_volumes(src: _Source, reqs: list[Any], mode: str) -> list[Any]:
    """The image's ``VOLUME``s no mount covers: anonymous volumes filled from the image on first
    use (``--image-volume bind``, Podman's default), tmpfs mounts, or nothing (``ignore``)."""
    import posixpath

    from rpod.volume.volumes import MountRequest

    if mode not in ("bind", "tmpfs", "ignore"):
        raise UsageError(f'invalid image volume type "{mode}": must be "bind", "tmpfs" or "ignore"')
    if mode == "ignore":
        return []

    taken = {posixpath.normpath(r.destination) for r in reqs}
    out = []
    for v in sorted(src.inner.get("Volumes") or {}):
        dst = posixpath.normpath(posixpath.join("/", v))
        if dst not in taken and dst != "/":
            taken.add(dst)
            out.append(MountRequest("volume" if mode == "bind" else "tmpfs", dst))
    return out


def _default_mounts() -> list[dict[str, Any]]:
    """``--default-mounts-file``: its ``SRC:DST`` lines as read-only binds (Podman's mounts.conf)."""
    path = os.environ.get("RPOD_DEFAULT_MOUNTS_FILE")
    if not path:
        return []
    out = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        src, sep, dst = line.strip().partition(":")
        if sep and src and dst and not line.lstrip().startswith("#") and os.path.exists(src):
            out.append({"destination": dst, "type": "bind", "source": src, "options": ["rbind", "ro"]})
    return out


def _localtime(tz: str, directory: Path) -> str:
    """``--tz``: a copy of the host's zone file (``local``: ``/etc/localtime``'s), as Podman
    binds it at ``/etc/localtime``."""
    import shutil

    if tz == "local":
        source = os.path.realpath("/etc/localtime")
    else:
        parts = tz.split("/")
        source = os.path.join("/usr/share/zoneinfo", *parts)
        if tz.startswith("/") or ".." in parts or not os.path.isfile(source):
            raise UsageError(f"running container create option: finding timezone: unknown time zone {tz}")
    target = directory / "localtime"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, target)
    except OSError as e:
        raise RpodError(f"running container create option: finding timezone: {e.strerror}: {source}") from None
    return str(target)


def _conf_image_volume_mode() -> str:
    """containers.conf's ``[engine] image_volume_mode`` (Podman's default: bind)."""
    return _conf_setting("engine", "image_volume_mode") or "bind"


def _conf_setting(section: str, key: str) -> str:
    """containers.conf's ``[SECTION] KEY`` as a string ("" when unset)."""
    from rpod.containersconf import section_str

    return section_str(section, key)


def _keep_id_home(opts: RunOptions, src: _Source, destinations: list[str]) -> str | None:
    """``--userns=keep-id``'s home directory, as Podman picks it: the caller's own home when a
    mount brings it (or a parent of it) into the container, else the container's working
    directory.  None without keep-id."""
    from rpod.container.options import parse_userns

    mode = parse_userns(opts.userns)
    if mode.mode != "keep-id":
        return None
    import pwd

    workdir = opts.workdir or src.inner.get("WorkingDir") or "/"
    try:
        host_home = pwd.getpwuid(os.getuid() if mode.uid is None else mode.uid).pw_dir
    except KeyError:
        return workdir
    for dst in destinations:
        d = dst.rstrip("/") or "/"
        if host_home == d or host_home.startswith(d if d.endswith("/") else d + "/"):
            return host_home
    return workdir


def _mount_layers(paths: Paths, opts: RunOptions, layer_dirs: list[Path], maps: Any,
                  home: str | None = None) -> list[Path]:
    """The image's layers as the container mounts them: copies shifted to its id map, if any."""
    from rpod.container.shifted import passwd_layer, shifted_layer_dirs

    mount_layers = shifted_layer_dirs(paths, layer_dirs, maps) if maps is not None else layer_dirs
    # keep-id's and --hostuser's passwd/group entries, as Podman adds them
    return [*mount_layers, *passwd_layer(paths, opts, layer_dirs, maps, home=home or "/")]


def _etc_files(paths: Paths, cdir: Path, opts: RunOptions, net: Any, hostname: str, record: ContainerRecord,
               src: _Source) -> Any:
    """``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname`` and ``/run/.containerenv``."""
    from rpod.containersconf import containers_list, containers_str
    from rpod.network.etcfiles import base_hosts, write_etc_files

    # containers.conf's dns_servers/dns_searches/dns_options come first, then the flags' (Podman's
    # generateResolvConf); servers from either replace the network's and the host's
    dns = [*(containers_list("dns_servers") or []), *opts.dns]
    dns_search = [*(containers_list("dns_searches") or []), *opts.dns_search]
    dns_option = [*(containers_list("dns_options") or []), *opts.dns_option]
    dns, dns_search = net.etc_dns(paths, dns, dns_search)
    base = base_hosts(containers_str("base_hosts_file"), lambda: _image_file(src, "/etc/hosts"))
    net.hosts_base = [[ip, *names] for ip, names in base]
    net.internal_ip = containers_str("host_containers_internal_ip")
    return write_etc_files(cdir / ctrfiles.USERDATA, hostname=hostname, name=record.name, network=net.etc_network,
                           add_hosts=opts.add_host, dns=dns, dns_search=dns_search,
                           dns_option=dns_option, base_hosts=base, internal_ip=net.internal_ip,
                           containerenv=_containerenv(opts, record, src))


def _image_file(src: _Source, path: str) -> str | None:
    """A text file of the image (None when it has none)."""
    from rpod.image.layerfs import find_in_layers

    found = find_in_layers(list(reversed(src.layer_dirs)), path)
    try:
        return found.read_text(encoding="utf-8", errors="replace") if found and found.is_file() else None
    except OSError:
        return None


def _containerenv(opts: RunOptions, record: ContainerRecord, src: _Source) -> str:
    """``/run/.containerenv``: empty, as Podman leaves it, unless ``--privileged`` (then the
    engine, name, id, image and rootless keys)."""
    from rpod import __version__
    from rpod.network.etcfiles import containerenv_content

    if not opts.privileged:
        return ""
    return containerenv_content(version=__version__, cid=record.id, name=record.name, image=opts.image,
                                image_id=src.image.id)


def _fill_record(record: ContainerRecord, opts: RunOptions, spec: dict[str, Any], src: _Source, hostname: str,
                 mounts: list[dict[str, Any]], warnings: list[str]) -> None:
    """What ``inspect`` and later starts read: the process as the bundle runs it, the image's
    defaults as resolved."""
    inner = src.inner
    proc = spec.get("process") or {}
    record.command = list(proc.get("args") or [])
    record.env = list(proc.get("env") or [])
    record.workdir = proc.get("cwd") or "/"
    record.hostname = spec.get("hostname") or hostname
    record.mounts = mounts
    record.user = opts.user or inner.get("User") or ""
    own = parse_entrypoint(opts.entrypoint)  # --entrypoint (the effective one, as Podman shows it)
    record.entrypoint = own if own is not None else list(inner.get("Entrypoint") or [])
    record.cmd = list(opts.command or inner.get("Cmd") or [])
    record.stop_signal = parse_signal(opts.stop_signal or inner.get("StopSignal") or "SIGTERM")
    record.stop_timeout = opts.stop_timeout if opts.stop_timeout is not None else 10
    record.warnings = warnings


def _drop_unenforceable_resources(spec: dict[str, Any], opts: RunOptions) -> list[str]:
    """Rootless without a delegated cgroup v2 subtree cannot enforce --memory/--cpus/--pids-limit:
    like Podman on cgroup v1, warn once on stderr, drop them from the bundle, and return the note
    (kept in the record so ``inspect`` shows the limits were not applied)."""
    if opts.memory is None and opts.cpus is None and opts.pids_limit is None:
        return []
    from rpod.hostfacts import LIMITS_FIX, resource_limits_note
    from rpod.log import hint

    note = resource_limits_note()
    if not note:
        return []
    resources = (spec.get("linux") or {}).get("resources") or {}
    for key in ("memory", "cpu", "pids"):
        resources.pop(key, None)
    sys.stderr.write(f"{note}\n")  # a spec warning: plain, as Podman prints them
    sys.stderr.flush()
    hint(LIMITS_FIX)
    return [note]


def _prepare_volumes(reqs: list[Any], mounts: list[dict[str, Any]], used: list[Any], volumes: Any,
                     spec: dict[str, Any], *, layer_dirs: list[Path], scratch: Path, driver: str) -> None:
    """First use of a volume: copy the image's content at the mount point into it (unless
    ``nocopy``); ``:U``: chown the source to the container's user (in the user namespace)."""
    from rpod.volume.volumes import copy_up

    vol_iter = iter(used)
    chown_sources: list[str] = []
    for req, entry in zip(reqs, mounts, strict=True):
        if req.type == "volume":
            vol = next(vol_iter)
            if vol.needs_copy_up:
                vol.needs_copy_up = not copy_up(vol, layer_dirs, req.destination, scratch, driver) \
                    if req.copy_up else False
                vol.needs_chown = False
                volumes.update(vol)
            elif vol.needs_chown:
                vol.needs_chown = False
                volumes.update(vol)
        if req.chown and req.type != "tmpfs":
            chown_sources.append(entry["source"])
    if chown_sources:
        user = (spec.get("process") or {}).get("user") or {}
        linux = spec.get("linux") or {}
        chown_in_userns(chown_sources, int(user.get("uid", 0)), int(user.get("gid", 0)),
                         linux.get("uidMappings") or [], linux.get("gidMappings") or [])
