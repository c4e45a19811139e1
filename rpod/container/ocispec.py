"""Image config + ``RunOptions`` → OCI runtime ``config.json`` (a pure function, Podman's rules).

Everything the function needs from the host or the store arrives in ``SpecContext`` (resolved
id maps, generated /etc files, resolved volume mounts, a passwd lookup); the only host facts read
here are the caller's rlimits (rootless containers inherit ``RLIMIT_NOFILE``/``RLIMIT_NPROC``),
the kernel's last capability and the default seccomp profile, so the result is reproducible.

Choices, documented:
- ``container=podman`` is set in the environment, as Podman does: systemd and scripts detect
  "a Podman-like container" by it; ``io.container.manager=rpod`` names the real manager.
- ``TERM=xterm`` is always set (Podman does too, with or without ``-t``).
- ``--privileged`` gives every capability, no seccomp, no masked/read-only paths and writable
  ``/sys``; host devices are not bind-mounted (rootless cannot use most of them anyway).
- The capability sets follow Podman 4.3: root gets bounding=effective=permitted=the set; a
  non-root user gets the set as bounding only, and only the ``--cap-add`` capabilities in
  effective/permitted/inheritable/ambient.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rpod.container.options import (
    RunOptions,
    host_rlimit,
    normalize_cap,
    parse_entrypoint,
    parse_env,
    parse_key_values,
    parse_memory,
    parse_signal,
    parse_ulimit,
    parse_umask,
    parse_user,
    parse_userns,
    security_options,
)
from rpod.container.users import ResolvedUser, UserLookup
from rpod.errors import EXIT_CANNOT_INVOKE, ContainerCannotInvoke, UsageError

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_DEST = "/run/rpod-init"
INIT_CANDIDATES = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/libexec/catatonit/catatonit")
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]
MASKED_PATHS = [
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
    "/sys/dev/block",
]
READONLY_PATHS = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
READ_ONLY_TMPFS_DIRS = ("/tmp", "/var/tmp", "/run")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
# sysctls that belong to a namespace the container owns (others would change the host)
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
_UTS_SYSCTLS = ("kernel.domainname", "kernel.hostname")


@dataclass
class OverlayInfo:
    """The container's root file system layers (lowest layer first) for ``run.rpod.overlay``."""

    lowerdirs: list[str]
    upperdir: str
    workdir: str
    driver: str = "kernel"
    base: str = ""  # the runtime reaches the store from here (a map without the user: see rootfs.prepare)

    def annotation(self) -> str:
        doc = {"lowerdir": list(self.lowerdirs), "upperdir": self.upperdir, "workdir": self.workdir,
               "driver": self.driver}
        if self.base:
            doc["base"] = self.base
        return json.dumps(doc, separators=(",", ":"))


@dataclass
class SpecContext:
    """What ``build_spec`` needs besides the flags and the image config, all already resolved."""

    container_id: str
    rootfs: str
    name: str | None = None
    overlay: OverlayInfo | None = None
    uid_mappings: list[dict[str, int]] = field(default_factory=list)  # [] = no new user namespace
    gid_mappings: list[dict[str, int]] = field(default_factory=list)
    network: str = "none"  # the engine's decision: none | host | slirp4netns[:...] | ns:PATH
    netns_path: str | None = None  # join this network namespace instead of creating one
    ns_modes: dict[str, str] = field(default_factory=dict)  # ipc/pid/uts/cgroup: new|host|join|/ns/path
    hosts_file: str | None = None
    resolv_conf_file: str | None = None
    hostname_file: str | None = None
    containerenv_file: str | None = None
    localtime_file: str | None = None  # --tz: bound at /etc/localtime
    mounts: list[dict[str, Any]] = field(default_factory=list)  # resolved -v/--mount/--tmpfs entries
    passwd_lookup: UserLookup | None = None
    keep_id_home: str | None = None  # --userns=keep-id: the user's home as its passwd entry says
    init_path: str | None = None  # catatonit on the host (None: searched in INIT_CANDIDATES)
    cgroup_ns: bool = True
    host_env: dict[str, str] | None = None  # for -e NAME / --env-host (None: os.environ)
    annotations: dict[str, str] = field(default_factory=dict)  # engine annotations (created...)


# ------------------------------------------------------------------------------------ helpers
def _image_config(image_config: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` object of an OCI image config (or the object itself when already inner)."""
    inner = image_config.get("config") if isinstance(image_config.get("config"), dict) else None
    if inner is not None:
        return inner
    return image_config if "Cmd" in image_config or "Entrypoint" in image_config or "Env" in image_config else {}


def process_args(opts: RunOptions, cfg: dict[str, Any]) -> list[str]:
    """Docker's rules: ENTRYPOINT (flag or image) + CMD (arguments, or the image's CMD when
    ``--entrypoint`` was not given).  Raises ``UsageError`` when nothing is left to run."""
    entry = parse_entrypoint(opts.entrypoint)
    if entry is None:
        entry = list(cfg.get("Entrypoint") or [])
        cmd = list(opts.command) if opts.command else list(cfg.get("Cmd") or [])
    else:
        cmd = list(opts.command)
    args = entry + cmd
    if not args:
        raise UsageError("no command specified: no command or entrypoint provided, and no CMD or "
                         "ENTRYPOINT from image", hint="give a command after the image name")
    return args


def find_init(explicit: str | None = None) -> str:
    """Host path of catatonit for ``--init`` (Debian installs /usr/bin/catatonit)."""
    for cand in ([explicit] if explicit else []) + list(INIT_CANDIDATES):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    found = shutil.which("catatonit")
    if found:
        return found
    raise UsageError("--init needs catatonit, which is not installed",
                     hint="as root: apt-get install catatonit; or pass --init-path")


def capability_sets(opts: RunOptions, uid: int) -> dict[str, list[str]]:
    """The five OCI capability sets, Podman 4.3 style (see module docstring)."""
    from rootless.caps import CAP_NAMES, last_cap

    all_caps = list(CAP_NAMES[: last_cap() + 1])
    add = [normalize_cap(c) for c in opts.cap_add]
    drop = [normalize_cap(c) for c in opts.cap_drop]
    both = sorted((set(add) & set(drop)) - {"ALL"})
    if both:
        raise UsageError(f"capability {both[0]} cannot be both added and dropped")
    caps = set(all_caps) if opts.privileged or "ALL" in add else set(DEFAULT_CAPS)
    if "ALL" in drop:
        caps = set()
    caps = sorted((caps | {c for c in add if c != "ALL"}) - set(drop))
    if uid == 0:
        return {"bounding": caps, "effective": list(caps), "permitted": list(caps), "inheritable": [],
                "ambient": []}
    added = all_caps if "ALL" in add else sorted({c for c in add if c != "ALL"} & set(caps))
    return {"bounding": caps, "effective": list(added), "permitted": list(added),
            "inheritable": list(added), "ambient": list(added)}


def _resolve_user(opts: RunOptions, cfg: dict[str, Any], ctx: SpecContext) -> ResolvedUser:
    spec = opts.user if opts.user is not None else (cfg.get("User") or "")
    userns = parse_userns(opts.userns)
    if userns.mode == "keep-id" and opts.user is None:
        # keep-id runs as the caller's ids by default, as Podman does
        spec = f"{userns.uid if userns.uid is not None else os.getuid()}:" \
               f"{userns.gid if userns.gid is not None else os.getgid()}"
    if ctx.passwd_lookup is not None:
        return ctx.passwd_lookup(spec, list(opts.group_add))
    user, group = parse_user(spec)
    if (user and not user.isdigit()) or (group and not group.isdigit()):
        raise UsageError(f"unable to find user {user or group}: no matching entries in passwd file",
                         exit_code=EXIT_CANNOT_INVOKE)  # 126, as Podman
    gid = int(group) if group else 0
    extra = [gid] + [int(g) for g in opts.group_add if g.isdigit()]
    return ResolvedUser(int(user or 0), gid, list(dict.fromkeys(extra)))


def _rlimits(opts: RunOptions) -> list[dict[str, Any]]:
    limits: dict[str, tuple[int, int]] = {}
    for rtype in ("RLIMIT_NOFILE", "RLIMIT_NPROC"):
        _soft, hard = host_rlimit(rtype)
        limits[rtype] = (hard, hard)
    for u in opts.ulimit:
        if u == "host":
            from rpod.container.options import ULIMIT_NAMES

            for rtype in ULIMIT_NAMES.values():
                limits[rtype] = host_rlimit(rtype)
            continue
        rtype, soft, hard = parse_ulimit(u)
        limits[rtype] = (soft, hard)
    return [{"type": t, "hard": h, "soft": s} for t, (s, h) in limits.items()]


def _sysctls(opts: RunOptions, own_netns: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    if own_netns:
        out["net.ipv4.ping_group_range"] = "0 0"  # unprivileged ping inside, as Podman
    for key, value in parse_key_values(opts.sysctl, "--sysctl", require_value=True).items():
        if key.startswith("net."):
            if not own_netns:
                raise UsageError(f"sysctl {key!r} is not allowed with --network host: it would change the host")
        elif not (key in _IPC_SYSCTLS or key.startswith("fs.mqueue.") or key in _UTS_SYSCTLS):
            raise UsageError(f"sysctl {key!r} is not allowed: only namespaced sysctls (net.*, kernel.msg*, "
                             "kernel.sem, kernel.shm*, fs.mqueue.*) can be set in a container")
        out[key] = value
    return out


def _resources(opts: RunOptions) -> dict[str, Any] | None:
    res: dict[str, Any] = {}
    if opts.memory is not None:
        res["memory"] = {"limit": parse_memory(opts.memory)}
    if opts.cpus is not None:
        period = 100000
        res["cpu"] = {"quota": int(opts.cpus * period), "period": period}
    if opts.pids_limit is not None:
        res["pids"] = {"limit": opts.pids_limit}
    return res or None


def _devices(opts: RunOptions) -> list[dict[str, Any]]:
    """``--device SRC[:DST][:PERMS]`` → bind mounts (rootless cannot mknod)."""
    out = []
    for d in opts.devices:
        parts = d.split(":")
        src = parts[0]
        dst = src
        perms = "rwm"
        if len(parts) >= 2:
            if parts[1].startswith("/"):
                dst = parts[1]
                perms = parts[2] if len(parts) > 2 else perms
            else:
                perms = parts[1]
        if not src.startswith("/") or not dst.startswith("/") or set(perms) - set("rwm") or len(parts) > 3:
            raise UsageError(f"invalid --device {d!r}: expected /dev/SRC[:/dev/DST][:rwm]")
        if not os.path.exists(src):
            raise UsageError(f"--device {d!r}: {src} does not exist")
        options = ["rbind", "nosuid", "noexec", "rw" if "w" in perms else "ro"]
        out.append({"destination": dst, "type": "bind", "source": src, "options": options})
    return out


def _bind(dest: str, source: str, readonly: bool = False) -> dict[str, Any]:
    return {"destination": dest, "type": "bind", "source": source,
            "options": ["bind", "rprivate"] + (["ro"] if readonly else [])}


def _base_mounts(opts: RunOptions, own_netns: bool) -> list[dict[str, Any]]:
    shm = parse_memory(opts.shm_size) if opts.shm_size is not None else DEFAULT_SHM_SIZE
    rw = "rw" if opts.privileged else "ro"
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm // 1024}k"]},
    ]
    if own_netns:
        mounts.append({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                       "options": ["nosuid", "noexec", "nodev", rw]})
    else:  # sysfs needs the network namespace: bind the host's
        mounts.append({"destination": "/sys", "type": "bind", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    mounts.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                   "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", rw]})
    return mounts


def _paths_lists(opts: RunOptions) -> tuple[list[str], list[str]]:
    sec = security_options(opts.security_opt)
    if opts.privileged:
        masked: list[str] = []
        readonly: list[str] = []
    else:
        masked = list(MASKED_PATHS)
        readonly = list(READONLY_PATHS)
    masked += [p for p in sec.mask if p not in masked]
    for p in sec.unmask:
        if p == "ALL":
            masked, readonly = [], []
        else:
            masked = [m for m in masked if m != p]
            readonly = [r for r in readonly if r != p]
    return masked, readonly


def _shared(kind: str, ctx: SpecContext) -> list[dict[str, str]]:
    """One namespace entry as ``--ipc``/``--pid``/``--uts``/``--cgroupns`` ask (host: none)."""
    mode = ctx.ns_modes.get(kind, "new")
    if mode == "host":
        return []
    if mode == "join":  # the owner's /proc/PID/ns/* is filled in at start
        return [{"type": kind, "path": f"/proc/0/ns/{kind}"}]
    if mode.startswith("/"):
        return [{"type": kind, "path": mode}]
    return [{"type": kind}]


def _namespaces(ctx: SpecContext) -> list[dict[str, str]]:
    nss: list[dict[str, str]] = _shared("pid", ctx)
    if ctx.netns_path:
        nss.append({"type": "network", "path": ctx.netns_path})
    elif ctx.network != "host":
        nss.append({"type": "network"})
    nss += [*_shared("ipc", ctx), *_shared("uts", ctx), {"type": "mount"}]
    if ctx.uid_mappings:
        nss.append({"type": "user"})
    if ctx.cgroup_ns:
        nss += _shared("cgroup", ctx)
    return nss


# ---------------------------------------------------------------------------------- the spec
def build_spec(opts: RunOptions, image_config: dict[str, Any], ctx: SpecContext) -> dict[str, Any]:
    """The OCI runtime ``config.json`` for a container (pure apart from host rlimits/caps)."""
    cfg = _image_config(image_config)
    sec = security_options(opts.security_opt)
    own_netns = ctx.network != "host" or bool(ctx.netns_path)
    hostname = _hostname(opts, ctx)
    process, init_source = _process(opts, cfg, ctx, sec, hostname)
    mounts = _mounts(opts, ctx, own_netns, init_source)
    if systemd_mode(opts, process_args(opts, cfg)):  # systemd wants these writable and empty
        taken = {m["destination"] for m in mounts}
        mounts += [{"destination": d, "type": "tmpfs", "source": "tmpfs",
                    "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]} for d in SYSTEMD_TMPFS if d not in taken]
    linux = _linux(opts, ctx, sec, own_netns, process["capabilities"]["bounding"])
    annotations = _annotations(opts, cfg, ctx)
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": ctx.rootfs, "readonly": bool(opts.read_only)},
        "hostname": hostname,
        "mounts": mounts,
        "annotations": annotations,
        "linux": linux,
    }


def _hostname(opts: RunOptions, ctx: SpecContext) -> str:
    if opts.hostname:
        return opts.hostname
    if (ctx.network == "host" and not ctx.netns_path) or ctx.ns_modes.get("uts") == "host":
        return socket.gethostname()
    return ctx.container_id[:12]


def _process(opts: RunOptions, cfg: dict[str, Any], ctx: SpecContext, sec: Any,
             hostname: str) -> tuple[dict[str, Any], str | None]:
    """The spec's ``process`` and the host path of ``--init``'s binary (None without ``--init``)."""
    args = process_args(opts, cfg)
    init_source = None
    if opts.init:
        init_source = find_init(opts.init_path or ctx.init_path)
        args = [INIT_DEST, "--", *args]
    user = _resolve_user(opts, cfg, ctx)
    home = user.home
    if ctx.keep_id_home and opts.user is None and home in (None, "", "/"):  # keep-id's added entry
        home = ctx.keep_id_home
    env = _environment(opts, cfg, ctx, hostname, home)
    if systemd_mode(opts, args):  # Podman's systemd mode: the container's id for systemd
        env.append(f"container_uuid={ctx.container_id[:32]}")
    cwd = opts.workdir or cfg.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        # Podman creates the container and fails to chdir at start: exit 126, its wording
        raise ContainerCannotInvoke(f'workdir "{cwd}" does not exist on container {ctx.container_id}')

    proc_user: dict[str, Any] = {"uid": user.uid, "gid": user.gid,
                                 "umask": parse_umask(opts.umask) if opts.umask else 0o022}
    if user.additional_gids:
        proc_user["additionalGids"] = list(user.additional_gids)
    process: dict[str, Any] = {
        "terminal": bool(opts.tty),
        "user": proc_user,
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": capability_sets(opts, user.uid),
        "rlimits": _rlimits(opts),
        "noNewPrivileges": bool(sec.no_new_privileges),
    }
    if opts.oom_score_adj is not None:
        if not -1000 <= opts.oom_score_adj <= 1000:
            raise UsageError(f"invalid --oom-score-adj {opts.oom_score_adj}: must be between -1000 and 1000")
        process["oomScoreAdj"] = opts.oom_score_adj
    return process, init_source


SYSTEMD_INITS = ("/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init")
SYSTEMD_TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")


def systemd_mode(opts: RunOptions, args: list[str]) -> bool:
    """``--systemd``: ``always``, or ``true`` (the default) with an init for a command (Podman's rule)."""
    if opts.systemd == "always":
        return True
    cmd = args[0] if args else ""
    return opts.systemd == "true" and (cmd in SYSTEMD_INITS or os.path.basename(cmd) == "systemd")


def _environment(opts: RunOptions, cfg: dict[str, Any], ctx: SpecContext, hostname: str,
                 home: str | None) -> list[str]:
    """Defaults, the image's, ``--env-host``/``--env-file``/``-e``, then HOSTNAME and HOME if unset."""
    image_env = list(cfg.get("Env") or [])
    defaults = []
    if not any(e.startswith("PATH=") for e in image_env):
        defaults.append(f"PATH={DEFAULT_PATH}")
    defaults += ["TERM=xterm", "container=podman"]
    if opts.unsetenv_all:  # --unsetenv-all: neither rpod's defaults nor the image's
        defaults, image_env = [], []
    elif opts.unsetenv:  # --unsetenv K: drop K from those (-e K=V still sets it)
        drop = set(opts.unsetenv)
        defaults = [e for e in defaults if e.partition("=")[0] not in drop]
        image_env = [e for e in image_env if e.partition("=")[0] not in drop]
    env = parse_env(opts.env, opts.env_file, opts.env_host, defaults + image_env, ctx.host_env, opts.http_proxy)
    keys = {e.partition("=")[0] for e in env}
    if "HOSTNAME" not in keys:
        env.append(f"HOSTNAME={hostname}")
    if "HOME" not in keys and home:
        env.append(f"HOME={home}")
    return env


def _mounts(opts: RunOptions, ctx: SpecContext, own_netns: bool, init_source: str | None) -> list[dict[str, Any]]:
    """Defaults, then generated files, then the user's (a later destination wins)."""
    mounts = _base_mounts(opts, own_netns)
    if opts.ipc == "none":  # an IPC namespace without /dev/shm, as Podman
        mounts = [m for m in mounts if m["destination"] != "/dev/shm"]
    if ctx.ns_modes.get("ipc") == "host":  # mqueue of an ipc namespace we do not own: bind the host's
        host_mq = [{"destination": "/dev/mqueue", "type": "bind", "source": "/dev/mqueue",
                    "options": ["rbind", "nosuid", "noexec", "nodev"]}] if os.path.isdir("/dev/mqueue") else []
        i = next(i for i, m in enumerate(mounts) if m["destination"] == "/dev/mqueue")
        mounts[i:i + 1] = host_mq
    if ctx.ns_modes.get("pid") == "host":  # procfs of a pid namespace we do not own: bind the host's
        mounts[0] = {"destination": "/proc", "type": "bind", "source": "/proc",
                     "options": ["rbind", "nosuid", "noexec", "nodev"]}
    ro_etc = opts.read_only
    for dest, src in (("/etc/hostname", ctx.hostname_file), ("/etc/hosts", ctx.hosts_file),
                      ("/etc/resolv.conf", ctx.resolv_conf_file)):
        if src:
            mounts.append(_bind(dest, src, ro_etc))
    if ctx.containerenv_file:
        mounts.append(_bind("/run/.containerenv", ctx.containerenv_file))
    if ctx.localtime_file:
        mounts.append(_bind("/etc/localtime", ctx.localtime_file, True))
    if opts.read_only and opts.read_only_tmpfs:
        user_dests = {m["destination"] for m in ctx.mounts}
        for d in READ_ONLY_TMPFS_DIRS:
            if d not in user_dests:
                mounts.append({"destination": d, "type": "tmpfs", "source": "tmpfs",
                               "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]})
    if init_source:
        mounts.append(_bind(INIT_DEST, init_source, readonly=True))
    mounts += _devices(opts)
    overridden = {m["destination"] for m in ctx.mounts}
    return [m for m in mounts if m["destination"] not in overridden] + [dict(m) for m in ctx.mounts]


def _linux(opts: RunOptions, ctx: SpecContext, sec: Any, own_netns: bool, bounding: list[str]) -> dict[str, Any]:
    """The spec's ``linux``: id maps, sysctls, resources, namespaces, masked paths, seccomp."""
    linux: dict[str, Any] = {}
    if ctx.uid_mappings:
        linux["uidMappings"] = [dict(m) for m in ctx.uid_mappings]
        linux["gidMappings"] = [dict(m) for m in (ctx.gid_mappings or ctx.uid_mappings)]
    sysctl = _sysctls(opts, own_netns)
    if sysctl:
        linux["sysctl"] = sysctl
    resources = _resources(opts)
    if resources:
        linux["resources"] = resources
    linux["namespaces"] = _namespaces(ctx)
    masked, readonly_paths = _paths_lists(opts)
    linux["maskedPaths"] = masked
    linux["readonlyPaths"] = readonly_paths
    from rpod.container.seccomp import profile_for

    seccomp = profile_for(sec.seccomp, bounding, privileged=opts.privileged)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    return linux


def _annotations(opts: RunOptions, cfg: dict[str, Any], ctx: SpecContext) -> dict[str, str]:
    annotations = {
        "io.container.manager": "rpod",
        "io.podman.annotations.autoremove": "TRUE" if opts.rm else "FALSE",
        "io.podman.annotations.init": "TRUE" if opts.init else "FALSE",
        "io.podman.annotations.privileged": "TRUE" if opts.privileged else "FALSE",
        "org.opencontainers.image.stopSignal": str(parse_signal(opts.stop_signal or cfg.get("StopSignal")
                                                                or "SIGTERM")),
    }
    if "keep-groups" in opts.group_add:
        annotations["run.oci.keep_original_groups"] = "1"
    if ctx.overlay is not None:
        annotations["run.rpod.overlay"] = ctx.overlay.annotation()
    annotations.update(ctx.annotations)
    annotations.update(parse_key_values(opts.annotations, "--annotation"))
    return annotations


def mount_destinations(spec: dict[str, Any]) -> Sequence[str]:
    """The destinations of a spec's mounts, in order (handy for reports and tests)."""
    return [m["destination"] for m in spec.get("mounts", [])]
