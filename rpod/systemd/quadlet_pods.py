"""Quadlet ``*.kube`` and ``*.pod`` files (Podman's ``podman-systemd.unit(5)``).

``NAME.kube`` becomes ``NAME.service``: ``rpod kube play --replace FILE`` (``Yaml=``, relative to
the unit file) as a oneshot that stays active, ``rpod kube down FILE`` on stop (rpod has no
``--service-container`` yet, so systemd tracks the pods through the command's exit, not a
process).  ``NAME.pod`` becomes ``NAME-pod.service``, which creates the pod (``pod create
--infra-conmon-pidfile %t/%N.pid --pod-id-file %t/%N.pod-id --exit-policy=stop --replace``) and
runs its infra (``Type=forking``, ``PIDFile=`` its monitor); a ``.container`` with
``Pod=NAME.pod`` joins it with ``--pod-id-file`` and ``BindsTo=``/``After=`` that service.
"""

from __future__ import annotations

import os
from typing import Any

KUBE_KEYS = {"Yaml", "Network", "PublishPort", "ConfigMap", "LogDriver", "UserNS", "AutoUpdate", "PodmanArgs",
             "ExitCodePropagation", "SetWorkingDirectory", "KubeDownForce"}
POD_KEYS = {"PodName", "Network", "NetworkAlias", "PublishPort", "Volume", "AddHost", "DNS", "DNSSearch",
            "DNSOption", "HostName", "IP", "MAC", "Label", "UserNS", "PodmanArgs", "ShmSize"}
_POD_FLAGS = {"Network": "--network", "NetworkAlias": "--network-alias", "PublishPort": "--publish",
              "Volume": "--volume", "AddHost": "--add-host", "DNS": "--dns", "DNSSearch": "--dns-search",
              "DNSOption": "--dns-option", "HostName": "--hostname", "IP": "--ip", "MAC": "--mac-address",
              "UserNS": "--userns"}


def _rel(unit: Any, path: str) -> str:
    return path if path.startswith(("/", "%")) else os.path.normpath(os.path.join(os.path.dirname(unit.path), path))


def convert_kube(unit: Any, exe: list[str], q: Any) -> Any:
    """``q`` is ``rpod.systemd.quadlet`` (its parser and renderer; passed in, not imported back)."""
    sec = "Kube"
    q._check_keys(unit, sec, KUBE_KEYS)
    yaml = unit.last(sec, "Yaml")
    if not yaml:
        raise q.QuadletError(f"{unit.path}: no Yaml key in the [Kube] group", hint="add Yaml=FILE")
    yaml = _rel(unit, yaml)
    args = ["kube", "play", "--replace"]
    deps: list[str] = []
    for key, value in unit.section(sec):
        if key == "Network":
            args += ["--network", q._flag_value(unit, "Network", value, deps)]
        elif key == "PublishPort":
            args += ["--publish", value]
        elif key == "ConfigMap":
            args += ["--configmap", _rel(unit, value)]
        elif key == "LogDriver":
            args += ["--log-driver", value]
        elif key == "PodmanArgs":
            args += q.split_words(value, unit.path, key)
    args.append(yaml)
    name = os.path.splitext(os.path.basename(unit.path))[0]
    play = " ".join(exe + [q.escape_arg(a) for a in args])
    down_args = ["kube", "down", *(["--force"] if q.parse_bool(unit.last(sec, "KubeDownForce") or "false",
                                                               unit.path, "KubeDownForce") else []), yaml]
    down = " ".join(exe + [q.escape_arg(a) for a in down_args])
    unit_lines = [f"SourcePath={unit.path}", "RequiresMountsFor=%t/rpod"]
    for dep in deps:
        unit_lines += [f"Requires={dep}", f"After={dep}"]
    service_lines = ["Environment=PODMAN_SYSTEMD_UNIT=%n", "Environment=RPOD_SYSTEMD_UNIT=%n",
                     f"ExecStart={play}", f"ExecStop={down}", "Type=oneshot", "RemainAfterExit=yes",
                     "SyslogIdentifier=%N"]
    return q.Service(name + ".service", q._render(unit, sec, unit_lines, service_lines),
                     q._install_links(unit, name + ".service"))


def convert_pod(unit: Any, exe: list[str], q: Any) -> Any:
    sec = "Pod"
    q._check_keys(unit, sec, POD_KEYS)
    base = os.path.splitext(os.path.basename(unit.path))[0]
    args = ["pod", "create", "--infra-conmon-pidfile=%t/%N.pid", "--pod-id-file=%t/%N.pod-id",
            "--exit-policy=stop", "--replace"]
    deps: list[str] = []
    for key, value in unit.section(sec):
        if key in _POD_FLAGS:
            args += [_POD_FLAGS[key], q._flag_value(unit, key, value, deps) if key in ("Network", "Volume") else value]
        elif key == "Label":
            for item in q.split_words(value, unit.path, key):
                args += ["--label", item]
        elif key == "PodmanArgs":
            args += q.split_words(value, unit.path, key)
    args.append(f"--name={unit.last(sec, 'PodName') or 'systemd-' + base}")
    cmd = " ".join(exe + [q.escape_arg(a) for a in args])
    idf = "--pod-id-file=%t/%N.pod-id"
    unit_lines = [f"SourcePath={unit.path}", "RequiresMountsFor=%t/rpod", "Wants=network-online.target",
                  "After=network-online.target"]
    for dep in deps:
        unit_lines += [f"Requires={dep}", f"After={dep}"]
    service_lines = ["Environment=PODMAN_SYSTEMD_UNIT=%n", "Environment=RPOD_SYSTEMD_UNIT=%n",
                     "ExecStartPre=-/bin/rm -f %t/%N.pid %t/%N.pod-id", f"ExecStartPre={cmd}",
                     f"ExecStart={' '.join(exe)} pod start {idf}",
                     f"ExecStop={' '.join(exe)} pod stop {idf} --ignore --time=10",
                     f"ExecStopPost={' '.join(exe)} pod rm {idf} --ignore --force",
                     "PIDFile=%t/%N.pid", "Type=forking", "SyslogIdentifier=%N"]
    name = f"{base}-pod.service"
    return q.Service(name, q._render(unit, sec, unit_lines, service_lines), q._install_links(unit, name))


def pod_of_container(unit: Any, value: str, q: Any) -> tuple[list[str], list[str]]:
    """``Pod=NAME.pod`` in a ``.container``: (run flags, [Unit] lines)."""
    if not value.endswith(".pod") or len(value) <= 4:
        raise q.QuadletError(f"{unit.path}: key Pod: {value!r} is not a .pod unit (NAME.pod)")
    service = f"{value[:-4]}-pod.service"
    return [f"--pod-id-file=%t/{value[:-4]}-pod.pod-id"], [f"BindsTo={service}", f"After={service}"]
