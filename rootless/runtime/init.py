"""Child side of ``create`` and ``exec``: namespaces, filesystem, process attributes, ``execve``.

``intermediate()`` runs in the process forked by the caller: it enters or creates the namespaces
(asking the parent to write the id maps after ``unshare(CLONE_NEWUSER)``), forks the container
init (pid 1 of a new pid namespace) and exits.  ``container_init()`` sets up the container,
reports ``ready`` and blocks on the exec fifo until ``start``; ``exec_child()`` is the same
finish for ``exec`` without the fifo.  Everything that can fail before ``execve`` is reported over
the sync channel; once ``start`` has happened, errors go to the container's stderr and the exit
status (127 not found, 126 not executable, 1 otherwise).
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import select
import socket
import stat as stat_mod
import struct
import sys

from rootless import caps, syscalls
from rootless.runtime import bundle, mounts
from rootless.runtime.errors import ContainerError
from rootless.runtime.hooks import hooks_of, run_hooks
from rootless.runtime.sync import Channel

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any, NoReturn

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXEC = 126

_TIOCSCTTY = 0x540E
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914


class InitOptions:
    """What the parent hands to the child processes."""

    def __init__(self, container_id: str, bundle: str, fifo_path: str = "", console_fd: int = -1,
                 preserve_fds: int = 0, join_pid: int = 0):
        self.container_id = container_id
        self.bundle = bundle
        self.fifo_path = fifo_path
        self.console_fd = console_fd
        self.preserve_fds = preserve_fds
        self.join_pid = join_pid  # exec: the container init whose namespaces to join


# ---------------------------------------------------------------------------- helpers


def resolve_executable(arg0: str, env: list[str], cwd: str = "/") -> str:
    """Find ``arg0`` like execvp would, in the container's PATH.  Raises ``ContainerError`` (127/126)."""
    if "/" in arg0:
        candidates = [arg0 if arg0.startswith("/") else os.path.join(cwd, arg0)]
    else:
        path = bundle.env_value(env, "PATH", DEFAULT_PATH)
        candidates = [os.path.join(d or ".", arg0) for d in path.split(":")]
    denied: str | None = None
    for c in candidates:
        try:
            st = os.stat(c)
        except OSError:
            continue
        if stat_mod.S_ISDIR(st.st_mode):
            denied = denied or f"cannot execute `{c}`: Is a directory"
            continue
        if not stat_mod.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
            denied = denied or f"cannot execute `{c}`: Permission denied"
            continue
        return c
    if denied:
        raise ContainerError(denied, exit_code=EXIT_CANNOT_EXEC)
    raise ContainerError(f"executable file `{arg0}` not found in $PATH: No such file or directory",
                         exit_code=EXIT_NOT_FOUND)


def exec_error_code(err: OSError) -> int:
    return EXIT_NOT_FOUND if err.errno in (errno.ENOENT, errno.ENOTDIR) else EXIT_CANNOT_EXEC


def _bring_lo_up() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | 1))
    finally:
        s.close()


def _write_file(path: str, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def apply_sysctl(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        try:
            _write_file("/proc/sys/" + key.replace(".", "/"), str(value))
        except OSError as e:
            raise ContainerError(f"cannot set sysctl {key}={value}: {e.strerror}") from e


def apply_rlimits(rlimits: list[dict[str, Any]]) -> None:
    for rl in rlimits:
        name = rl["type"]
        res = getattr(resource, name, None)
        if res is None:
            raise ContainerError(f"unknown rlimit {name}")
        try:
            resource.setrlimit(res, (int(rl["soft"]), int(rl["hard"])))
        except (OSError, ValueError) as e:
            raise ContainerError(f"cannot set {name} to {rl['soft']}:{rl['hard']}: {e}") from e


def apply_oom_score_adj(value: int, warnings: list[str]) -> None:
    try:
        _write_file("/proc/self/oom_score_adj", str(value))
    except OSError as e:
        warnings.append(f"cannot set oomScoreAdj {value}: {e.strerror} (lowering it needs real root)")


def open_pty(uid: int) -> tuple[int, int]:
    """(master, slave) of a new pty on the container's devpts."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
    slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    try:
        os.fchown(slave, uid, -1)
    except OSError:
        pass
    return master, slave


def send_console(console_fd: int, master: int) -> None:
    """Hand the pty master to whoever listens on ``--console-socket`` (SCM_RIGHTS, like runc)."""
    sock = socket.socket(fileno=console_fd)
    try:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
    finally:
        sock.close()


def _home_of(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"


def process_env(process: dict[str, Any]) -> list[str]:
    env = list(process.get("env") or [])
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={_home_of(int((process.get('user') or {}).get('uid', 0)))}")
    return env


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "allow"
    except OSError:
        return True


def preload(config: dict[str, Any]) -> None:
    """Import and dlopen what is needed later, while the host filesystem is still visible."""
    if (config.get("linux") or {}).get("seccomp"):
        from rootless import seccomp

        seccomp.preload()


def _load_seccomp(config: dict[str, Any]):
    spec = (config.get("linux") or {}).get("seccomp")
    if not spec:
        return None
    from rootless import seccomp

    try:
        return seccomp.compile_filter(spec)
    except seccomp.SeccompError as e:
        raise ContainerError(f"linux.seccomp: {e}") from e


# ---------------------------------------------------------------------------- final steps


class Prepared:
    """What ``finish_and_exec`` needs, computed before the container is started."""

    def __init__(self, config: dict[str, Any], process: dict[str, Any], opts: InitOptions):
        self.config = config
        self.process = process
        self.opts = opts
        self.env = process_env(process)
        self.user = process.get("user") or {}
        self.uid = int(self.user.get("uid", 0))
        self.gid = int(self.user.get("gid", 0))
        self.cwd = process.get("cwd") or "/"
        self.exe = ""
        self.filter = _load_seccomp(config)
        self.caps = caps.masks_from_oci(process.get("capabilities")) if "capabilities" in process else None
        self.slave = -1

    def check(self, create_cwd: bool = True) -> None:
        """Create the cwd (an exec's must exist, as with crun) and resolve the executable (reports
        127/126 at create time)."""
        if not create_cwd and not os.path.isdir(self.cwd):
            raise ContainerError(f"chdir `{self.cwd}`: No such file or directory", exit_code=127)
        try:
            os.makedirs(self.cwd, exist_ok=True)
        except OSError as e:
            raise ContainerError(f"cannot create the working directory {self.cwd}: {e.strerror}",
                                 exit_code=126 if e.errno in (errno.EEXIST, errno.ENOTDIR) else 125) from e
        self.exe = resolve_executable(self.process["args"][0], self.env, self.cwd)

    def setup_terminal(self) -> None:
        if not self.process.get("terminal"):
            return
        if self.opts.console_fd < 0:
            raise ContainerError("process.terminal is true but no --console-socket was given")
        master, self.slave = open_pty(self.uid)
        send_console(self.opts.console_fd, master)
        os.close(master)
        self.opts.console_fd = -1


def finish_and_exec(p: Prepared) -> NoReturn:
    """Terminal, user, capabilities, no_new_privs, seccomp, cwd, fds, then ``execve``.  Never returns."""
    try:
        if p.slave >= 0:
            os.setsid()
            fcntl.ioctl(p.slave, _TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(p.slave, fd)
            if p.slave > 2:
                os.close(p.slave)
        nnp = bool(p.process.get("noNewPrivileges"))
        if p.filter is not None and not nnp:
            p.filter.load()  # needs CAP_SYS_ADMIN, which the user switch below may drop
        if p.caps is not None:
            caps.drop_bounding(p.caps["bounding"])
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
        extra = [int(g) for g in p.user.get("additionalGids") or []]
        if _setgroups_allowed():
            os.setgroups(extra)
        elif extra:
            raise ContainerError("additionalGids need setgroups, which this user namespace denies "
                                 "(map a gid range with newgidmap)")
        os.setresgid(p.gid, p.gid, p.gid)
        os.setresuid(p.uid, p.uid, p.uid)
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
        if p.caps is not None:
            caps.apply(p.caps)
        if "umask" in p.user:
            os.umask(int(p.user["umask"]))
        if nnp:
            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(p.cwd)
        os.closerange(3 + p.opts.preserve_fds, 65536)
        for fd in range(3, 3 + p.opts.preserve_fds):
            try:
                os.set_inheritable(fd, True)
            except OSError:
                pass
        if p.filter is not None and nnp:
            p.filter.load()
    except (OSError, ContainerError) as e:
        _die(f"cannot start the container process: {e}", 1)
    try:
        os.execve(p.exe, p.process["args"], dict(e.partition("=")[::2] for e in p.env))
    except OSError as e:
        # the suffix Podman adds to a runtime's EACCES (what scripts and its tests match)
        suffix = ": OCI permission denied" if e.errno == errno.EACCES else ""
        _die(f"exec {p.exe}: {e.strerror}{suffix}", exec_error_code(e))


def _die(msg: str, code: int) -> NoReturn:
    try:
        os.write(2, f"rpod-runtime: {msg}\n".encode())
    finally:
        os._exit(code)


# ---------------------------------------------------------------------------- namespaces


def _ns_order(nss: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """user first (it owns the others), mount last (paths of other namespaces are host paths)."""
    rank = {"user": 0, "mount": 2}
    return sorted(nss, key=lambda ns: rank.get(ns["type"], 1))


def _setns_path(ns: dict[str, Any]) -> None:
    fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.setns(fd, syscalls.NAMESPACE_FLAGS[ns["type"]])
    except OSError as e:
        raise ContainerError(f"cannot join the {ns['type']} namespace {ns['path']}: {e.strerror}") from e
    finally:
        os.close(fd)


def _become_root() -> None:
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as e:
        raise ContainerError(f"cannot become root in the user namespace: {e.strerror}",
                             hint="map container uid and gid 0 in linux.uidMappings/gidMappings") from e
    # root here may be another host id than the caller's (keep-id, --uidmap): the uid change made
    # us non-dumpable, which would close /proc/PID/ns/* to the namespace's owner (slirp4netns, exec)
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 1)
    if _setgroups_allowed():
        try:
            os.setgroups([])
        except OSError:
            pass


_NS_GET_USERNS = 0xB701


def _netns_owner(nss: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A network namespace to join (``path``) with a *new* user namespace: join the network
    namespace's owning user namespace instead, when it is not ours.  Rootless, a namespace is
    only joinable from its owner (a new sibling user namespace has no rights over it)."""
    net = next((ns for ns in nss if ns["type"] == "network" and ns.get("path")), None)
    user = next((ns for ns in nss if ns["type"] == "user"), None)
    if net is None or user is None or user.get("path"):
        return nss
    fd = os.open(net["path"], os.O_RDONLY | os.O_CLOEXEC)
    try:
        owner = fcntl.ioctl(fd, _NS_GET_USERNS)
    except OSError:
        return nss
    finally:
        os.close(fd)
    if os.fstat(owner).st_ino == os.stat("/proc/self/ns/user").st_ino:
        os.close(owner)
        return nss
    return [({"type": "user", "path": f"/proc/self/fd/{owner}"} if ns is user else ns) for ns in nss]


def enter_namespaces(config: dict[str, Any], chan: Channel) -> None:
    """Join the ``path`` namespaces and create the others; the parent maps a new user namespace."""
    nss = _netns_owner(_ns_order(bundle.namespaces(config)))
    types = {ns["type"] for ns in nss}
    if "user" not in types and os.geteuid() != 0:
        raise ContainerError(
            "config.json has no user namespace and the runtime is not root",
            hint='add {"type": "user"} to linux.namespaces with linux.uidMappings/gidMappings, '
                 "or run the runtime inside a user namespace (rpod unshare)",
        )
    flags = 0
    pending_map = False
    for i, ns in enumerate(nss):
        t = ns["type"]
        if ns.get("path"):
            _setns_path(ns)
            if t == "user":
                _become_root()
        elif t == "user":
            try:
                syscalls.unshare(syscalls.CLONE_NEWUSER)
            except OSError as e:
                raise ContainerError(f"cannot create a user namespace: {e.strerror}",
                                     hint="check sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces") from e
            chan.send("map-request")
            # we hold every capability in the new namespace already: the other namespaces are
            # created while the parent runs newuidmap/newgidmap (~10 ms), unless a join follows
            pending_map = True
            if any(later.get("path") for later in nss[i + 1:]):
                _await_map(chan)
                pending_map = False
        else:
            flags |= syscalls.NAMESPACE_FLAGS[t]
    if flags:
        try:
            syscalls.unshare(flags)
        except OSError as e:
            if pending_map:  # let the parent finish mapping before we report and exit
                chan.expect("map-done")
            raise ContainerError(f"cannot create namespaces {sorted(types)}: {e.strerror}") from e
    if pending_map:
        _await_map(chan)


def _await_map(chan: Channel) -> None:
    """The parent wrote our id maps: become root of the new user namespace."""
    msg = chan.expect("map-done")
    if msg["type"] == "error":
        os._exit(1)
    _become_root()


def _report(chan: Channel, err: BaseException) -> NoReturn:
    code = getattr(err, "exit_code", 1)
    message = str(err)
    if isinstance(err, OSError) and err.strerror:
        message = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    hint = getattr(err, "hint", None)
    try:
        chan.send("error", message=message, exit_code=code, hint=hint)
    finally:
        os._exit(code or 1)


# ---------------------------------------------------------------------------- create


def intermediate(config: dict[str, Any], chan: Channel, opts: InitOptions) -> NoReturn:
    """Child of the caller: namespaces, fork the container init, report its pid, exit."""
    try:
        preload(config)
        # opened before the user namespace: its root may not be the fifo's owner (--uidmap, nomap)
        fifo = os.open(opts.fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        mounts.enter_base(config, opts.bundle)  # likewise the store, for a map without us
        enter_namespaces(config, chan)
        pid = os.fork()
        if pid == 0:
            container_init(config, chan, opts, fifo)
        chan.send("pid", pid=pid)
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        _report(chan, e)


def container_init(config: dict[str, Any], chan: Channel, opts: InitOptions, fifo: int) -> NoReturn:
    """The container's pid 1 before ``execve``."""
    try:
        warnings: list[str] = []
        types = bundle.namespace_types(config)
        process = config["process"]
        own = {ns["type"] for ns in bundle.namespaces(config) if not ns.get("path")}
        if "mount" not in types:
            raise ContainerError("the runtime needs a mount namespace: add {\"type\": \"mount\"} to linux.namespaces")
        if "network" in own:
            _bring_lo_up()
        if "uts" in own:  # a joined one (a pod's) keeps its owner's name
            if config.get("hostname"):
                syscalls.sethostname(config["hostname"])
            if config.get("domainname"):
                syscalls.setdomainname(config["domainname"])
        ctx = mounts.MountContext(config["root"]["path"], opts.bundle, mounts.read_gid_map())
        mounts.prepare_rootfs(config, ctx)
        warnings += ctx.warnings
        state: dict[str, Any] = {}
        if any(hooks_of(config, k) for k in ("prestart", "createRuntime", "createContainer", "startContainer")):
            chan.send("hooks")
            msg = chan.expect("hooks-done")
            if msg["type"] == "error":
                os._exit(1)
            state = msg["state"]
            run_hooks(hooks_of(config, "createContainer"), state, "createContainer")
        mounts.pivot(config["root"]["path"])
        linux = config.get("linux") or {}
        apply_sysctl(linux.get("sysctl") or {})  # before finish_rootfs makes /proc/sys read-only
        mounts.finish_rootfs(config)
        apply_rlimits(process.get("rlimits") or [])
        if "oomScoreAdj" in process:
            apply_oom_score_adj(int(process["oomScoreAdj"]), warnings)
        prepared = Prepared(config, process, opts)
        prepared.check()
        prepared.setup_terminal()
        chan.send("ready", warnings=warnings)
        chan.close()
    except BaseException as e:  # noqa: BLE001
        _report(chan, e)
    _wait_for_start(fifo)
    if state and hooks_of(config, "startContainer"):
        state = {**state, "status": "running"}
        try:
            run_hooks(hooks_of(config, "startContainer"), state, "startContainer")
        except ContainerError as e:
            _die(str(e), 1)
    finish_and_exec(prepared)


def _wait_for_start(fifo: int) -> None:
    """Block until ``start`` writes to the exec fifo (poll: no writer yet means no POLLHUP)."""
    poller = select.poll()
    poller.register(fifo, select.POLLIN)
    while True:
        poller.poll()
        try:
            data = os.read(fifo, 1)
        except BlockingIOError:
            continue
        if data:
            break
        os._exit(1)  # the writer went away without starting us
    os.close(fifo)


# ---------------------------------------------------------------------------- exec


def exec_intermediate(config: dict[str, Any], process: dict[str, Any], chan: Channel, opts: InitOptions) -> NoReturn:
    """Child of the caller for ``exec``: join the container's namespaces, fork, report the pid."""
    try:
        preload(config)
        ns_fds = []
        for ns in _ns_order(bundle.namespaces(config)):
            name = syscalls.NAMESPACE_PROC_NAMES[ns["type"]]
            path = f"/proc/{opts.join_pid}/ns/{name}"
            ns_fds.append((ns["type"], os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        for t, fd in ns_fds:
            if t == "user" and os.readlink(f"/proc/{opts.join_pid}/ns/user") == os.readlink("/proc/self/ns/user"):
                continue
            try:
                syscalls.setns(fd, syscalls.NAMESPACE_FLAGS[t])
            except OSError as e:
                raise ContainerError(f"cannot join the container's {t} namespace: {e.strerror}") from e
            if t == "user":
                _become_root()
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            exec_child(config, process, chan, opts)
        chan.send("pid", pid=pid)
        os._exit(0)
    except BaseException as e:  # noqa: BLE001
        _report(chan, e)


def exec_child(config: dict[str, Any], process: dict[str, Any], chan: Channel, opts: InitOptions) -> NoReturn:
    """An exec'd process: rlimits, cwd, terminal, then the common finish.  The channel closes on exec."""
    try:
        apply_rlimits(process.get("rlimits") or [])
        prepared = Prepared(config, process, opts)
        prepared.check(create_cwd=False)
        prepared.setup_terminal()
        chan.send("ready", warnings=[])
    except BaseException as e:  # noqa: BLE001
        _report(chan, e)
    chan.close()
    finish_and_exec(prepared)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("rootless.runtime.init is not an entry point; use python -m rootless.runtime")
