"""OCI runtime command line: ``python -m rootless.runtime [--root DIR] [--log FILE] [--log-format json] VERB ...``.

Verbs: create, start, state, kill, delete, run, exec, list, features (the runc/crun set).
Exit status: 0 on success, the container's status for ``run``/``exec`` in the foreground, 127/126
when the executable is missing/not executable, 1 on other errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rootless.runtime import log
from rootless.runtime.errors import ContainerError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rootless.runtime", description="rpod's rootless OCI runtime")
    p.add_argument("--root", help="state directory (default $XDG_RUNTIME_DIR/rpod-runtime)")
    p.add_argument("--log", help="append warnings and errors to this file")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--systemd-cgroup", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cgroup-manager", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="verb", required=True)

    def with_create_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--bundle", "-b", default=".")
        sp.add_argument("--pid-file")
        sp.add_argument("--console-socket")
        sp.add_argument("--preserve-fds", type=int, default=0)
        sp.add_argument("--no-pivot", action="store_true", help=argparse.SUPPRESS)
        sp.add_argument("--no-new-keyring", action="store_true", help=argparse.SUPPRESS)
        sp.add_argument("id")

    create = sub.add_parser("create", help="create a container (waits for start)")
    create.add_argument("--config", "-f", help="the configuration to use instead of BUNDLE/config.json (crun's)")
    with_create_opts(create)
    run = sub.add_parser("run", help="create and start a container")
    run.add_argument("--detach", "-d", action="store_true")
    with_create_opts(run)
    for verb in ("start", "state"):
        sub.add_parser(verb).add_argument("id")
    k = sub.add_parser("kill", help="send a signal to a container")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete", help="delete a container")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    e = sub.add_parser("exec", help="run a process in a container")
    e.add_argument("--process", "-p")
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--console-socket")
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--cwd")
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("id")
    e.add_argument("args", nargs=argparse.REMAINDER)
    sp = sub.add_parser("spec", help="write a default rootless config.json into the bundle")
    sp.add_argument("--bundle", "-b", default=".")
    sp.add_argument("--rootless", action="store_true", help="accepted for runc/crun compatibility")
    sub.add_parser("list", help="list containers")
    sub.add_parser("features", help="print the supported features as JSON")
    return p


def _features() -> dict:
    from rootless import caps
    from rootless.runtime import mounts, state

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": state.OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted([*mounts._FLAGS, *mounts.PROPAGATION]),
        "linux": {
            "namespaces": ["user", "mount", "pid", "uts", "ipc", "network", "cgroup", "time"],
            "capabilities": list(caps.CAP_NAMES),
            "cgroup": {"v1": False, "v2": False, "systemd": False},
            "seccomp": {"enabled": True},
        },
    }


def _main(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    if a.log:
        log.configure(a.log, a.log_format)
    from rootless.runtime import api, state

    root = a.root or state.default_root()
    if a.verb == "create":
        api.create(a.id, a.bundle, root, console_socket=a.console_socket, pid_file=a.pid_file,
                   preserve_fds=a.preserve_fds, config_path=a.config)
    elif a.verb == "run":
        return api.run(a.id, a.bundle, root, console_socket=a.console_socket, detach=a.detach,
                       pid_file=a.pid_file, preserve_fds=a.preserve_fds)
    elif a.verb == "start":
        api.start(a.id, root)
    elif a.verb == "state":
        print(json.dumps(api.state(a.id, root), indent=2))
    elif a.verb == "kill":
        api.kill(a.id, root, a.signal, all_processes=a.all)
    elif a.verb == "delete":
        try:
            api.delete(a.id, root, force=a.force)
        except ContainerError as e:
            from rootless.runtime.errors import NoSuchContainer

            if not (a.force and isinstance(e, NoSuchContainer)):
                raise
    elif a.verb == "exec":
        return _exec(a, root)
    elif a.verb == "list":
        print(f"{'ID':<24} {'PID':>8} {'STATUS':<8} BUNDLE")
        for cid in state.list_ids(root):
            try:
                s = api.state(cid, root)
            except ContainerError:
                continue
            print(f"{cid:<24} {s['pid']:>8} {s['status']:<8} {s['bundle']}")
    elif a.verb == "spec":
        from rootless.runtime.spec import rootless_spec

        path = os.path.join(a.bundle, "config.json")
        if os.path.exists(path):
            raise ContainerError(f"{path} already exists", hint="remove it first")
        with open(path, "w") as f:
            json.dump(rootless_spec(), f, indent=2)
    elif a.verb == "features":
        print(json.dumps(_features(), indent=2))
    return 0


def _exec(a: argparse.Namespace, root: str) -> int:
    from rootless.runtime import api

    if a.process:
        with open(a.process) as f:
            process = json.load(f)
    else:
        args = a.args[1:] if a.args[:1] == ["--"] else a.args
        if not args:
            raise ContainerError("exec needs --process FILE or a command")
        process = api.exec_defaults(a.id, root, args, tty=a.tty)
        if a.cwd:
            process["cwd"] = a.cwd
        process["env"] = list(process.get("env") or []) + a.env
    if not a.detach:
        api.become_subreaper()
    pid = api.exec_process(a.id, root, process, console_socket=a.console_socket, pid_file=a.pid_file,
                           preserve_fds=a.preserve_fds)
    return 0 if a.detach else api.wait_status(pid)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except ContainerError as e:
        log.error(e.message + (f" ({e.hint})" if e.hint else ""))
        return e.exit_code
    except OSError as e:
        log.error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
