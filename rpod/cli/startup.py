"""What the global options do at start-up, and cobra's ``--flag=true|false``, without click.

``rpod.cli.globals`` declares the global options for click; the fast path of the everyday commands
(rpod.cli.fast) parses the same options from a generated table.  Both hand them to :func:`apply`
here, and both rewrite cobra's boolean syntax with :func:`bool_values`, so the two paths do the
same thing at start-up.
"""

from __future__ import annotations

import os
import sys

from rpod.errors import RpodError, UsageError

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

LOG_LEVELS = ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"]
DEFAULT_LOG_LEVEL = "warn"
TRUE_WORDS = {"1", "t", "true"}
FALSE_WORDS = {"0", "f", "false"}


class LogLevelError(RpodError):
    """Podman prints these bare (no ``Error:``) and exits 1."""

    exit_code = 1


def remote_requested() -> bool:
    """``CONTAINER_HOST``/``CONTAINER_CONNECTION`` make Podman hide ``--remote``; rpod does the same."""
    return bool(os.environ.get("CONTAINER_HOST") or os.environ.get("CONTAINER_CONNECTION"))


STORAGE_DRIVERS = ("overlay", "vfs")


def _set(name: str, value: str | None) -> None:
    if value:
        os.environ[name] = value


def _log_level(level: str, debug: bool) -> str:
    if debug:
        if level != DEFAULT_LOG_LEVEL:
            raise LogLevelError("Setting --log-level and --debug is not allowed")
        level = "debug"
    if level.lower() not in LOG_LEVELS:
        raise LogLevelError(f'Log Level "{level}" is not supported, choose from: {", ".join(LOG_LEVELS)}')
    return level.lower()


def _runtime(runtime: str | None, flags: tuple[str, ...]) -> None:
    """``--runtime``/``--runtime-flag``: the argv prefix rpod's monitor runs containers with."""
    argv: list[str] = []
    if runtime and not _is_builtin_runtime(runtime):
        import shutil

        found = next((p for p in _conf_runtime_paths(runtime) if os.access(p, os.X_OK) and os.path.isfile(p)),
                     None) or shutil.which(runtime)
        if not found:
            raise UsageError(f'default OCI runtime "{runtime}" not found: invalid argument')
        argv.append(found)
    if flags:
        if not argv:  # the built-in runtime has no global flags: fail where the runtime would (126)
            os.environ["RPOD_RUNTIME_FLAGS"] = " ".join(flags)
            return
        argv += [f if f.startswith("-") else ("--" + f if len(f.split("=")[0]) > 1 else "-" + f) for f in flags]
    if argv:
        os.environ["RPOD_OCI_RUNTIME"] = " ".join(argv)


def _is_builtin_runtime(name: str) -> bool:
    """``rpod``/``rpod-runtime``, or a containers.conf runtime whose paths name rpod's own."""
    from rpod.containersconf import builtin_runtime_paths

    own = {os.path.normpath(p) for p in builtin_runtime_paths()}
    if name in ("rpod", "rpod-runtime") or os.path.normpath(name) in own:
        return True
    paths = _conf_runtime_paths(name)
    return bool(paths) and os.path.normpath(paths[0]) in own


def _conf_runtime_paths(name: str) -> list[str]:
    """``[engine.runtimes] NAME = [paths]`` of ``CONTAINERS_CONF`` ([] when absent)."""
    from rpod.containersconf import engine_setting

    table = engine_setting("runtimes")
    paths = table.get(name) if isinstance(table, dict) else None
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


def _conf_runtime() -> str | None:
    """``[engine] runtime`` of the file ``CONTAINERS_CONF`` names (read only when it is set)."""
    from rpod.containersconf import engine_str

    return engine_str("runtime") or None


def apply_log_level(level: str, debug: bool = False) -> str:
    """``--log-level``/``--debug`` (also where Podman's persistent flag follows a subcommand)."""
    level = _log_level(level, debug)
    os.environ["RPOD_LOG_LEVEL"] = {"warning": "warn", "trace": "debug", "fatal": "error", "panic": "error"}.get(
        level, level)
    if level in ("trace", "debug", "info"):  # Podman's first log line at these levels
        from rpod.cli.common import logrus

        logrus("info", f"{sys.argv[0]} filtering at log level {level}")
    if level == "trace":  # the finest level: what rpod was asked, word for word
        logrus("trace", f"Command line: {sys.argv!r}")
    return level


def apply(opts: dict[str, Any]) -> None:
    """Check the global options and hand what applies to the rest of rpod (through the environment)."""
    level = apply_log_level(opts["log_level"], opts["debug"])
    if opts["remote"] or opts["url"] or opts["host"] or opts["connection"]:
        raise UsageError("rpod has no remote mode (--remote, --url, --connection): it runs containers of the "
                         "local user only; run rpod on the machine itself (e.g. over ssh)")
    if opts["config"]:
        from rpod.cli.common import warn

        warn("The --config flag is ignored by Podman. Exists for Docker compatibility")
    _set("RPOD_ROOT", opts["root_dir"])
    _set("RPOD_RUNROOT", opts["runroot"])
    _set("RPOD_VOLUME_PATH", opts["volumepath"])
    _set("RPOD_TMPDIR", opts["tmpdir"])
    _set("RPOD_REGISTRIES_CONF", opts["registries_conf"])
    _set("RPOD_NETWORK_CMD_PATH", opts["network_cmd_path"])
    _set("RPOD_DEFAULT_MOUNTS_FILE", opts["default_mounts_file"])
    if opts["hooks_dir"]:
        os.environ["RPOD_HOOKS_DIR"] = ":".join(opts["hooks_dir"])
    events = opts["events_backend"]
    if events is not None:
        if events not in ("file", "journald", "none"):
            raise UsageError(f'configuring runtime: "{events}" is not a valid events backend: invalid argument')
        # journald events are not written by rpod: they go to the file, which `rpod events` reads
        os.environ["RPOD_EVENTS_BACKEND"] = "none" if events == "none" else "file"
    cgm = opts["cgroup_manager"]
    if cgm is not None and cgm not in ("cgroupfs", "systemd"):
        raise UsageError("configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument")
    _set("RPOD_CGROUP_MANAGER", cgm)
    driver = opts["storage_driver"]
    if driver is not None and driver not in STORAGE_DRIVERS:
        raise UsageError(f'unsupported storage driver "{driver}": rpod stores layers as directories shared '
                         f"through overlay (choose from: {', '.join(STORAGE_DRIVERS)})")
    _set("RPOD_STORAGE_DRIVER", driver)
    # the storage driver's options, as Podman picks them: --storage-opt (one "" clears them); else
    # --root or --storage-driver drop the configured ones; else the defaults (RPOD_STORAGE_OPTS unset)
    if opts["storage_opt"]:
        os.environ["RPOD_STORAGE_OPTS"] = "\n".join(o for o in opts["storage_opt"] if o)
    elif opts["root_dir"] or driver is not None:
        os.environ["RPOD_STORAGE_OPTS"] = ""
    if opts["network_cmd_path"] and not os.access(opts["network_cmd_path"], os.X_OK):
        raise UsageError(f"network command path {opts['network_cmd_path']!r} is not an executable file")
    _runtime(opts["runtime"] or _conf_runtime(), opts["runtime_flag"])
    if level in ("trace", "debug"):  # what Podman's runtime start-up logs at debug level
        from rpod.cli.common import logrus
        from rpod.engine.types import store

        p = store()
        logrus("debug", f"Using graph root {p.root}")
        logrus("debug", f"Using run root {p.runroot}")
        logrus("debug", f"Using volume path {p.volumes}")
    if opts["noout"]:
        _silence_stdout()


def _silence_stdout() -> None:
    """``--noout``: rpod's own output goes nowhere; a container's output (its own fds) still shows."""
    sys.stdout.flush()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


# ---- cobra's --flag=true|false ---------------------------------------------------------------------

# a boolean flag's option string -> (names the flag's "on" side, its on string, its off string or None,
# its default is True, its name as pflag shows it in errors: "-t, --tty")
BoolFlags = dict[str, tuple[bool, str, str | None, bool, str]]


def _rewrite(tok: str, flags: BoolFlags) -> list[str] | None:
    """``--tty=false`` → ``[]`` / ``--no-tty``; ``--tty=true`` → ``--tty``; None: not a bool flag."""
    name, _, value = tok.partition("=")
    flag = flags.get(name)
    if flag is None:
        return None
    positive, on, off, default_true, shown = flag
    v = value.lower()
    if v in TRUE_WORDS:
        want = positive
    elif v in FALSE_WORDS:
        want = not positive
    else:
        raise UsageError(f'invalid argument "{value}" for "{shown}" flag: strconv.ParseBool: parsing '
                         f'"{value}": invalid syntax')
    if want:
        return [on]
    if off:
        return [off]
    return [tok] if default_true else []  # a default-true flag without a --no- form: leave it to click


def bool_values(args: list[str], flags: BoolFlags, takes_value: set[str], stop_at_positional: bool) -> list[str]:
    """Rewrite cobra-style ``--flag=BOOL`` tokens of a command's own options into click's syntax
    (``flags``/``takes_value``: the command's boolean flags and the option strings that take a value)."""
    if not any("=" in a for a in args):
        return args
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return out + args[i:]
        if not tok.startswith("-") or tok == "-":
            if stop_at_positional:
                return out + args[i:]
            out.append(tok)
            i += 1
            continue
        if tok.endswith("=") and tok[:-1] in takes_value:  # ``--storage-opt=``: an empty value, not the next word
            out += [tok[:-1], ""]
        elif "=" in tok:
            new = _rewrite(tok, flags)
            out.extend([tok] if new is None else new)
        else:
            out.append(tok)
            value_next = tok in takes_value or (not tok.startswith("--") and f"-{tok[-1]}" in takes_value)
            if value_next and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        i += 1
    return out
