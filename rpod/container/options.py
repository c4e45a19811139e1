"""``RunOptions``: every ``rpod run``/``create`` flag as a typed field, plus the flag parsers.

The CLI fills a ``RunOptions`` as given (strings and lists, no interpretation); the engine and
``rpod.container.ocispec`` interpret it with the ``parse_*`` helpers below.  Every parser raises
``rpod.errors.UsageError`` (exit 125) with the offending value and the accepted forms.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
from collections.abc import Iterable, Mapping

from rpod.errors import UsageError
from rpod.records import field, field_names, record

PULL_POLICIES = ("missing", "always", "never", "newer")
RLIM_INFINITY = 2**64 - 1  # "unlimited" as the OCI spec writes it (uint64 max)
ULIMIT_NAMES = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
SDNOTIFY_MODES = ("conmon", "container", "healthy", "ignore")
LOG_DRIVERS = ("k8s-file", "none", "passthrough", "json-file", "journald")
NETWORK_MODES = ("none", "host", "slirp4netns", "private", "ns", "pasta")
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@record
class RunOptions:
    """The flags of ``rpod run`` / ``rpod create`` (Podman spelling, Podman defaults).

    ``None`` means "not given" wherever the engine or the image decides the default
    (``entrypoint``, ``workdir``, ``user``, ``network``, ``hostname``, ``stop_signal``...).
    """

    image: str = ""
    command: list[str] = field(default_factory=list)
    # lifecycle
    rm: bool = False
    rmi: bool = False  # --rmi: remove the image after the container is removed (with --rm)
    timeout: int | None = None  # --timeout: seconds the container may run before it is killed
    preserve_fds: int = 0  # --preserve-fds N: pass fds 3..3+N-1 into the container
    detach: bool = False
    interactive: bool = False
    tty: bool = False
    name: str | None = None
    replace: bool = False
    cidfile: str | None = None
    pull: str = "missing"
    restart: str | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    init: bool = False
    init_path: str | None = None
    entrypoint: str | None = None
    workdir: str | None = None
    hostname: str | None = None
    # environment and metadata
    env: list[str] = field(default_factory=list)
    env_file: list[str] = field(default_factory=list)
    env_host: bool = False
    http_proxy: bool = True  # the host's proxy variables over the image's (Podman's --http-proxy)
    unsetenv: list[str] = field(default_factory=list)  # --unsetenv: defaults/image variables to drop
    unsetenv_all: bool = False
    tz: str | None = None  # --tz: Area/City, local, or a TZ the image has
    hostuser: list[str] = field(default_factory=list)  # --hostuser: host users added to /etc/passwd
    labels: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    # identity
    user: str | None = None
    group_add: list[str] = field(default_factory=list)
    userns: str = ""
    uidmap: list[str] = field(default_factory=list)
    gidmap: list[str] = field(default_factory=list)
    umask: str | None = None
    # mounts
    volumes: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)  # CTR[:ro|rw]: that container's volumes and binds
    image_volume: str | None = None  # the image's VOLUMEs: bind (anonymous volumes, the default), tmpfs, ignore
    read_only: bool = False
    read_only_tmpfs: bool = True
    # network
    network: str | None = None
    publish: list[str] = field(default_factory=list)
    publish_all: bool = False
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    network_alias: list[str] = field(default_factory=list)
    mac_address: str | None = None
    ip: str | None = None  # --ip: a static address on the (one) user network
    ip6: str | None = None
    # namespaces shared with the host or other containers, pods, start dependencies
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    cgroupns: str | None = None
    requires: list[str] = field(default_factory=list)
    pod: str | None = None  # pod id once resolved (``new:NAME`` creates it)
    is_service: bool = False  # kube play --service-container: the pods' service container
    pod_id_file: str | None = None
    secrets: list[str] = field(default_factory=list)  # --secret NAME[,type=mount|env,target=...]
    # security
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    sysctl: list[str] = field(default_factory=list)
    oom_score_adj: int | None = None
    # limits (recorded in linux.resources; not enforced without a delegated cgroup)
    memory: str | None = None
    runtime: str | None = None  # an OCI runtime CLI (name on PATH or path) instead of rpod's own
    cpus: float | None = None
    pids_limit: int | None = None
    ulimit: list[str] = field(default_factory=list)
    shm_size: str | None = None
    # I/O and logs
    attach: list[str] = field(default_factory=list)
    detach_keys: str | None = None
    log_driver: str | None = None
    log_opt: list[str] = field(default_factory=list)
    # systemd
    sdnotify: str = "conmon"
    systemd: str = "true"
    cgroups: str = "enabled"
    pidfile: str | None = None  # --pidfile: the container's init pid (host view), written by the monitor
    conmon_pidfile: str | None = None  # --conmon-pidfile: the monitor's pid
    # health
    health_cmd: str | None = None
    health_interval: str | None = None
    health_retries: int | None = None
    health_timeout: str | None = None
    health_start_period: str | None = None
    health_on_failure: str = "none"
    no_healthcheck: bool = False
    # platform
    arch: str | None = None
    os: str | None = None
    platform: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RunOptions:
        """The options stored in a container record (``asdict`` of a ``RunOptions``); keys this
        version no longer knows are dropped, new ones get their defaults."""
        known = field_names(cls)
        return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]

    def validate(self) -> None:
        """Check the flags that can be checked without the image (raises ``UsageError``)."""
        if self.pull not in PULL_POLICIES:
            raise UsageError(f"invalid --pull policy {self.pull!r}: use one of {', '.join(PULL_POLICIES)}")
        if self.rm and self.restart not in (None, "", "no"):
            raise UsageError("the --rm flag conflicts with --restart: use one or the other")
        for c in self.cap_add + self.cap_drop:
            normalize_cap(c)
        if self.detach_keys:
            from rootless.monitor.detach import parse as parse_detach_keys

            try:
                parse_detach_keys(self.detach_keys)
            except ValueError as e:
                raise UsageError(str(e)) from None
        for u in self.ulimit:
            parse_ulimit(u)
        for s in self.security_opt:
            parse_security_opt(s)
        if self.memory is not None:
            parse_memory(self.memory)
        if self.shm_size is not None:
            parse_memory(self.shm_size)
        if self.stop_signal is not None:
            parse_signal(self.stop_signal)
        if self.cpus is not None and self.cpus <= 0:
            raise UsageError(f"invalid --cpus {self.cpus}: must be a positive number")
        if self.umask is not None:
            parse_umask(self.umask)
        parse_entrypoint(self.entrypoint)
        parse_userns(self.userns)
        for m in self.uidmap + self.gidmap:
            parse_idmap(m)
        if self.restart:
            parse_restart(self.restart)
        if self.network:
            parse_network(self.network)
        for flag in ("ipc", "pid", "uts", "cgroupns"):
            value = getattr(self, flag)
            if value:
                parse_ns_mode(value, flag)
        _check_choice(self.sdnotify, SDNOTIFY_MODES, "--sdnotify")
        _check_choice(self.systemd, ("true", "false", "always"), "--systemd")
        _check_choice(self.health_on_failure, ("none", "kill", "restart", "stop"), "--health-on-failure")
        if self.log_driver is not None and self.log_driver not in LOG_DRIVERS:
            raise UsageError("running container create option: invalid log driver: invalid argument")  # Podman's
        log_settings(self.log_opt)
        if "keep-groups" in self.group_add and len(self.group_add) > 1:
            raise UsageError("the '--group-add keep-groups' option is not allowed with any other --group-add options")
        if self.timeout is not None and self.timeout < 0:
            raise UsageError(f"invalid --timeout {self.timeout}: must not be negative")
        parse_key_values(self.labels, "--label")
        parse_key_values(self.annotations, "--annotation")
        parse_key_values(self.sysctl, "--sysctl", require_value=True)


# --------------------------------------------------------------------------------- environment
def _env_pairs(items: Iterable[str], host_env: Mapping[str, str], origin: str) -> list[tuple[str, str]]:
    """``K=V`` → (K, V); bare ``K`` → the host's value (dropped when unset); ``K*`` → every host
    variable starting with ``K``."""
    out: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid environment variable {item!r} in {origin}: the name is empty")
        if sep:
            out.append((key, value))
        elif key.endswith("*"):
            prefix = key[:-1]
            out.extend((k, v) for k, v in host_env.items() if k.startswith(prefix))
        elif key in host_env:
            out.append((key, host_env[key]))
    return out


def read_env_file(path: str) -> list[str]:
    """The ``K=V`` / ``K`` lines of an ``--env-file`` (blank lines and ``#`` comments skipped)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read --env-file {path}: {e.strerror}") from e
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        lines.append(line if "=" in line else line.strip())
    return lines


PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY", "no_proxy",
              "NO_PROXY")


def parse_env(env: list[str], env_files: list[str], env_host: bool, image_env: list[str],
              host_env: Mapping[str, str] | None = None, http_proxy: bool = False) -> list[str]:
    """The container environment as ``K=V`` strings, with Podman's precedence (image env < the
    host's proxy variables with ``http_proxy`` < ``--env-host`` < ``--env-file`` < ``-e``); a later
    value replaces an earlier one in place, so the order of first appearance is kept."""
    host = dict(os.environ if host_env is None else host_env)
    merged: dict[str, str] = {}
    for item in image_env:
        key, _, value = item.partition("=")
        if key:
            merged[key] = value
    if http_proxy:
        merged.update({k: host[k] for k in PROXY_VARS if k in host})
    if env_host:
        merged.update(host)
    for path in env_files:
        merged.update(_env_pairs(read_env_file(path), host, f"--env-file {path}"))
    merged.update(_env_pairs(env, host, "--env"))
    return [f"{k}={v}" for k, v in merged.items()]


def parse_key_values(items: list[str], flag: str, *, require_value: bool = False) -> dict[str, str]:
    """``K=V`` flags (``--label``, ``--annotation``, ``--sysctl``) → dict; a bare ``K`` is ``K=""``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or (require_value and not sep):
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


@record
class LogSettings:
    """``--log-opt`` (Podman's keys: ``path``, ``max-size``, ``tag``; others are kept as given)."""

    path: str | None = None
    size_max: int = 0  # bytes, decimal units as go-units FromHumanSize (9.073m = 9073000)
    tag: str = ""
    other: dict[str, str] = field(default_factory=dict)


def log_settings(log_opt: list[str]) -> LogSettings:
    """Parse ``--log-opt KEY=VALUE`` flags (Podman 4.3.1's ``specgenutil`` rules)."""
    out = LogSettings()
    for item in log_opt:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"invalid log option {item!r}")
        k = key.lower()
        if k == "path":
            if not value.startswith("/"):
                raise UsageError(f"invalid log option {item!r}: path must be absolute")
            out.path = value
        elif k == "max-size":
            out.size_max = parse_decimal_size(value)
        elif k == "tag":
            out.tag = value
        else:
            out.other[key] = value
    return out


def parse_decimal_size(value: str) -> int:
    """go-units ``FromHumanSize``: ``9.073m``, ``10MB``, ``1k``, ``512`` → bytes, k = 1000."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*", value, re.IGNORECASE)
    if not m:
        raise UsageError(f"invalid size: '{value}'")
    return int(float(m.group(1)) * 1000 ** " kmgtp".index(m.group(2).lower() or " "))


# ------------------------------------------------------------------------------ sizes, signals
def parse_memory(value: str) -> int:
    """``512m``, ``1g``, ``1024``, ``64MiB``... → bytes (binary units, as Podman/Docker)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*", value, re.IGNORECASE)
    if not m:
        raise UsageError(f"invalid size {value!r}: use a number with an optional unit b, k, m, g (e.g. 512m)")
    number = float(m.group(1))
    return int(number * _MEMORY_UNITS[m.group(2).lower()])


def parse_signal(value: str | int) -> int:
    """``TERM``, ``SIGTERM``, ``sigkill``, ``15``, ``RTMIN+3``, ``-HUP``, ``-1`` → signal number
    (a leading dash is dropped, as Podman's ``util.ParseSignal``, also from its error)."""
    text = str(value).strip().removeprefix("-")
    value = text
    if text.isdigit():
        num = int(text)
        if 0 < num < signal.SIGRTMAX + 1:
            return num
        if num == 0:  # Podman's (docker/signal.ParseSignal) wording, one line, no hint
            raise UsageError(f"invalid signal: {value}")
        raise UsageError(f"valid signals are 1 through {int(signal.SIGRTMAX)}")
    name = text.upper().removeprefix("SIG")
    m = re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name)
    if m:
        base = signal.SIGRTMIN if m.group(1) == "IN" else signal.SIGRTMAX
        num = int(base) + int(m.group(2) or 0)
        if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
            return num
    else:
        sig = getattr(signal, "SIG" + name, None)
        if isinstance(sig, signal.Signals):
            return int(sig)
    raise UsageError(f"invalid signal: {value}")


def parse_ulimit(value: str) -> tuple[str, int, int]:
    """``nofile=1024[:2048]`` → (``RLIMIT_NOFILE``, soft, hard); ``-1``/``unlimited`` = infinity.

    ``host`` is handled by the caller (``host_ulimits``)."""
    name, sep, limits = value.partition("=")
    rtype = ULIMIT_NAMES.get(name.strip().lower())
    if not sep or rtype is None:
        raise UsageError(f"invalid --ulimit {value!r}: expected TYPE=SOFT[:HARD] with TYPE one of "
                         + ", ".join(sorted(ULIMIT_NAMES)))
    soft_s, _, hard_s = limits.partition(":")

    def num(s: str) -> int:
        s = s.strip()
        if s in ("-1", "unlimited"):
            return RLIM_INFINITY
        if not s.isdigit():
            raise UsageError(f"invalid --ulimit {value!r}: {s!r} is not a number")
        return int(s)

    soft = num(soft_s)
    hard = num(hard_s) if hard_s else soft
    if soft > hard:
        raise UsageError(f"invalid --ulimit {value!r}: soft limit {soft} is above hard limit {hard}")
    return rtype, soft, hard


def host_rlimit(rtype: str) -> tuple[int, int]:
    """The calling process's (soft, hard) limit, with RLIM_INFINITY as the OCI uint64 max."""
    res = getattr(resource, rtype)
    soft, hard = resource.getrlimit(res)
    conv = [RLIM_INFINITY if v == resource.RLIM_INFINITY else v for v in (soft, hard)]
    return conv[0], conv[1]


def parse_umask(value: str) -> int:
    """``0022`` / ``022`` / ``22`` (octal) → int."""
    try:
        mask = int(value, 8)
    except ValueError:
        raise UsageError(f"invalid --umask {value!r}: use an octal number like 0022") from None
    if not 0 <= mask <= 0o777:
        raise UsageError(f"invalid --umask {value!r}: must be between 0000 and 0777")
    return mask


# ----------------------------------------------------------------------------- user, entrypoint
def parse_user(value: str | None) -> tuple[str, str | None]:
    """``user[:group]`` (names or numbers) → (user, group or None); empty → ("", None)."""
    if not value:
        return "", None
    user, sep, group = value.partition(":")
    if not user or (sep and not group):
        raise UsageError(f"invalid --user {value!r}: expected USER[:GROUP] (names or numeric ids)")
    return user, (group if sep else None)


def parse_entrypoint(value: str | None) -> list[str] | None:
    """``None`` → the image's; ``""`` → cleared (``[]``); a JSON array → its strings; else one word."""
    if value is None:
        return None
    if value == "":
        return []
    if value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    return [value]


# ------------------------------------------------------------------------------- security
def normalize_cap(name: str) -> str:
    """``net_admin`` / ``CAP_NET_ADMIN`` → ``CAP_NET_ADMIN``; ``all`` → ``ALL``."""
    from rootless.caps import CAP_NAMES

    n = name.strip().upper()
    if n == "ALL":
        return "ALL"
    if not n.startswith("CAP_"):
        n = "CAP_" + n
    if n not in CAP_NAMES:
        raise UsageError(f"unknown capability {name!r}", hint="see capabilities(7) for the names")
    return n


@record
class SecurityOptions:
    """Parsed ``--security-opt`` values."""

    no_new_privileges: bool = False
    seccomp: str | None = None  # None = default profile, "unconfined", or a file path
    label_disable: bool = False
    mask: list[str] = field(default_factory=list)
    unmask: list[str] = field(default_factory=list)
    apparmor: str | None = None


def parse_security_opt(value: str, into: SecurityOptions | None = None) -> SecurityOptions:
    """One ``--security-opt`` value (``no-new-privileges[=true]``, ``seccomp=unconfined|FILE``,
    ``label=...``, ``mask=/a:/b``, ``unmask=ALL|/a:/b``, ``apparmor=...``)."""
    opts = into or SecurityOptions()
    key, sep, val = value.partition("=")
    if not sep and ":" in key and key.startswith(("seccomp", "label", "apparmor", "no-new-privileges")):
        key, _, val = value.partition(":")  # Docker's old spelling: seccomp:unconfined, no-new-privileges:true
    key = key.strip()
    if key in ("no-new-privileges", "no_new_privileges"):
        if val.lower() not in ("", "true", "false"):
            raise UsageError(f"invalid --security-opt {value!r}: no-new-privileges takes true or false")
        opts.no_new_privileges = val.lower() != "false"
    elif key == "seccomp":
        if not val:
            raise UsageError(f"invalid --security-opt {value!r}: use seccomp=unconfined or seccomp=FILE")
        opts.seccomp = val
    elif key == "label":
        # SELinux is not used by rpod: label=disable and the other label options are accepted, no-ops
        opts.label_disable = opts.label_disable or val == "disable"
    elif key == "apparmor":
        opts.apparmor = val
    elif key in ("mask", "unmask"):
        paths = [p for p in val.split(":") if p]
        if not paths:
            raise UsageError(f"invalid --security-opt {value!r}: give paths separated by ':'")
        for p in paths:
            if p != "ALL" and not p.startswith("/"):
                raise UsageError(f"invalid --security-opt {value!r}: {p!r} is not an absolute path")
        (opts.mask if key == "mask" else opts.unmask).extend(paths)
    else:
        raise UsageError(f"invalid --security-opt {value!r}",
                         hint="supported: no-new-privileges, seccomp=unconfined|FILE, label=disable, "
                              "mask=PATHS, unmask=PATHS")
    return opts


def security_options(values: list[str]) -> SecurityOptions:
    """All ``--security-opt`` flags, later ones winning."""
    opts = SecurityOptions()
    for v in values:
        parse_security_opt(v, opts)
    return opts


# ---------------------------------------------------------------- modes: userns, network, restart
def _check_choice(value: str, choices: Iterable[str], flag: str) -> str:
    if value not in choices:
        raise UsageError(f"invalid {flag} {value!r}: use one of {', '.join(choices)}")
    return value


@record(frozen=True)
class UsernsMode:
    """Parsed ``--userns``: ``mode`` is "" (default), host, keep-id, nomap or auto."""

    mode: str = ""
    uid: int | None = None  # keep-id:uid=
    gid: int | None = None  # keep-id:gid=
    size: int | None = None  # auto:size=


def parse_userns(value: str | None) -> UsernsMode:
    """``""``/``host``/``keep-id[:uid=N,gid=N]``/``nomap``/``auto[:size=N]``."""
    if not value:
        return UsernsMode()
    mode, _, rest = value.partition(":")
    if mode not in ("host", "keep-id", "nomap", "auto", "private"):
        raise UsageError(f"invalid --userns {value!r}: use host, keep-id[:uid=N,gid=N], nomap or auto")
    allowed = {"keep-id": ("uid", "gid"), "auto": ("size", "uidmapping", "gidmapping")}.get(mode, ())
    opts: dict[str, int] = {}
    for item in filter(None, rest.split(",")):
        k, sep, v = item.partition("=")
        if k not in allowed or not sep or not v.isdigit():
            raise UsageError(f"invalid --userns option {item!r} in {value!r}")
        opts[k] = int(v)
    return UsernsMode(mode if mode != "private" else "", opts.get("uid"), opts.get("gid"), opts.get("size"))


def parse_idmap(value: str) -> dict[str, int]:
    """``--uidmap``/``--gidmap`` ``CONTAINER:HOST:SIZE`` → an OCI mapping dict."""
    parts = value.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or int(parts[2]) == 0:
        raise UsageError(f"invalid id mapping {value!r}: expected CONTAINER_ID:HOST_ID:SIZE (SIZE > 0)")
    return {"containerID": int(parts[0]), "hostID": int(parts[1]), "size": int(parts[2])}


NS_MODES = {"ipc": ("host", "private", "shareable", "none"), "pid": ("host", "private"),
            "uts": ("host", "private"), "cgroupns": ("host", "private")}


def parse_ns_mode(value: str, flag: str) -> tuple[str, str]:
    """``--ipc``/``--pid``/``--uts``/``--cgroupns`` → (mode, argument): ``host``, ``private``,
    ``shareable`` (ipc), ``none`` (ipc), ``container:NAME``, ``ns:PATH``."""
    mode, _, rest = value.partition(":")
    if mode in NS_MODES[flag] and not rest:
        return mode, ""
    if mode == "container" and rest:  # cgroupns: pods share it (Podman's CLI has no such form)
        return mode, rest
    if mode == "ns" and rest.startswith("/"):
        return mode, rest
    forms = ", ".join([*NS_MODES[flag], "container:NAME", "ns:PATH"])
    raise UsageError(f"invalid --{flag} {value!r}: use {forms}")


def parse_network(value: str) -> tuple[str, str]:
    """``--network`` → (mode, options): ``none``, ``host``, ``slirp4netns[:opts]``, ``ns:PATH``,
    ``private``, ``pasta[:opts]``.  The engine picks the default when the flag is absent."""
    from rpod.network.spec import split_network

    value = split_network(value)[0]
    mode, _, rest = value.partition(":")
    if mode not in NETWORK_MODES and mode != "container":

        if not all(re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", n) for n in value.split(",")):
            raise UsageError(f"invalid --network {value!r}",
                             hint="use none, host, slirp4netns[:OPTIONS], pasta[:OPTIONS], container:NAME, "
                                  "ns:PATH or the name of a network (rpod network create)")
        return "bridge", value
    if mode == "ns" and not rest.startswith("/"):
        raise UsageError(f"invalid --network {value!r}: ns: needs an absolute path to a network namespace")
    return mode, rest


def parse_restart(value: str) -> tuple[str, int]:
    """``no``, ``on-failure[:N]``, ``always``, ``unless-stopped`` → (policy, max retries)."""
    policy, _, count = value.partition(":")
    if policy not in ("no", "on-failure", "always", "unless-stopped"):
        raise UsageError(f"invalid --restart {value!r}: use no, on-failure[:N], always or unless-stopped")
    if count and (policy != "on-failure" or not count.isdigit()):
        raise UsageError(f"invalid --restart {value!r}: only on-failure takes a retry count (a number)")
    return policy, int(count or 0)
