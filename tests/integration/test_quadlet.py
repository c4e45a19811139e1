"""Quadlet files → services: ``rpod quadlet --dryrun``, the shipped systemd user generator,
``systemd-analyze verify`` on its output, errors naming file and key, and a generated
service's command lines run the way systemd runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_systemd_units import NotifyListener, assert_verified, run_unit_line
from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod
from tests.support.systemd_units import expand, unit_commands

GENERATOR = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "rpod-user-generator"


@pytest.fixture
def env(rpod_env: RpodEnv, images: ImageSet) -> RpodEnv:
    ok(run_rpod(rpod_env, "pull", "-q", images.ref("alpine")))
    return rpod_env


def quadlet_dir(env: RpodEnv) -> Path:
    d = env.config_home / "containers" / "systemd"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_web(env: RpodEnv, image: str) -> None:
    d = quadlet_dir(env)
    (d / "web.container").write_text(f"""\
# a service
[Unit]
Description=Web container

[Container]
Image={image}
Exec=sh -c "echo $GREETING from $HOSTNAME; trap 'exit 0' TERM; while :; do sleep 0.2; done"
Environment=GREETING=hello "SPACED=a b"
Volume=data.volume:/data
Label=tier=front owner=me
AutoUpdate=registry
StopTimeout=3
RunInit=false

[Service]
Restart=always

[Install]
WantedBy=default.target
""")
    (d / "data.volume").write_text("[Volume]\nLabel=kind=data\n")
    (d / "front.network").write_text("[Network]\nSubnet=10.89.7.0/24\nInternal=true\n")


def test_dryrun_prints_the_services(env: RpodEnv, images: ImageSet) -> None:
    write_web(env, images.ref("alpine"))
    out = ok(run_rpod(env, "quadlet", "--dryrun", "--user")).stdout
    assert out.index("---data-volume.service---") < out.index("---front-network.service---") < \
        out.index("---web.service---")
    web = out[out.index("---web.service---"):]
    cmds = unit_commands(web)
    start = cmds["ExecStart"][0]
    assert os.path.isabs(start[0])
    i = start.index("run")
    assert start[i:i + 8] == ["run", "--name=systemd-%N", "--cidfile=%t/%N.cid", "--replace", "--rm",
                              "--cgroups=split", "--sdnotify=conmon", "-d"]
    assert start[start.index("SPACED=a b") - 1:start.index("SPACED=a b") + 1] == ["--env", "SPACED=a b"]
    assert "systemd-data:/data" in start and "io.containers.autoupdate=registry" in start
    assert start[start.index(images.ref("alpine")) + 1:][:2] == ["sh", "-c"]
    for line in ("Type=notify", "NotifyAccess=all", "KillMode=mixed", "SyslogIdentifier=%N",
                 "Requires=data-volume.service", "After=data-volume.service", "Restart=always",
                 "Description=Web container", "[X-Container]"):
        assert line + "\n" in web, line
    assert "--stop-timeout 3" in web.replace(" \\\n\t", " ")
    vol = out[out.index("---data-volume.service---"):out.index("---front-network.service---")]
    vstart = unit_commands(vol)["ExecStart"][0]
    assert vstart[1:] == ["volume", "create", "--ignore", "--label", "kind=data", "systemd-data"]
    assert "Type=oneshot\n" in vol and "RemainAfterExit=yes\n" in vol
    net = out[out.index("---front-network.service---"):out.index("---web.service---")]
    assert unit_commands(net)["ExecStart"][0][1:] == ["network", "create", "--ignore", "--subnet", "10.89.7.0/24",
                                                      "--internal", "systemd-front"]


def test_errors_name_the_file_and_key(env: RpodEnv, images: ImageSet) -> None:
    d = quadlet_dir(env)
    (d / "good.container").write_text(f"[Container]\nImage={images.ref('alpine')}\n")
    (d / "typo.container").write_text("[Container]\nImage=x\nImag=y\n")
    (d / "noimage.container").write_text("[Container]\nExec=true\n")
    (d / "badbool.container").write_text("[Container]\nImage=x\nReadOnly=maybe\n")
    (d / "garbage.volume").write_text("[Volume]\nthis is not a key\n")
    r = run_rpod(env, "quadlet", "--dryrun", "--user")
    assert r.returncode == 1
    assert f"{d}/typo.container: unsupported key 'Imag' in group 'Container'" in r.stderr
    assert f"{d}/noimage.container: no Image key in the [Container] group" in r.stderr
    assert f"{d}/badbool.container: key ReadOnly: 'maybe' is not a boolean" in r.stderr
    assert f"{d}/garbage.volume:2: expected Key=Value" in r.stderr
    assert "---good.service---" in r.stdout and "---typo.service---" not in r.stdout


def test_user_generator_output_passes_systemd_analyze_verify(env: RpodEnv, images: ImageSet,
                                                             tmp_path: Path) -> None:
    write_web(env, images.ref("alpine"))
    normal, early, late = (tmp_path / n for n in ("normal", "early", "late"))
    for d in (normal, early, late):
        d.mkdir()
    import sys

    genv = {**env, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    r = subprocess.run([str(GENERATOR), str(normal), str(early), str(late)], env=genv, text=True,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in normal.iterdir()) == ["data-volume.service", "default.target.wants",
                                                       "front-network.service", "web.service"]
    link = normal / "default.target.wants" / "web.service"
    assert os.readlink(link) == "../web.service" and link.resolve() == normal / "web.service"
    assert list(early.iterdir()) == [] and list(late.iterdir()) == []
    assert_verified(normal, env)


def test_generated_service_runs_like_systemd(env: RpodEnv, images: ImageSet) -> None:
    write_web(env, images.ref("alpine"))
    (quadlet_dir(env) / "front.network").unlink()  # the network CLI is not this test's business
    out = ok(run_rpod(env, "quadlet", "--dryrun", "--user")).stdout
    vol = unit_commands(out[out.index("---data-volume.service---"):out.index("---web.service---")])
    web_text = out[out.index("---web.service---"):]
    web = unit_commands(web_text)
    listener = NotifyListener()
    for name, cmds in (("data-volume", vol), ("web", web)):
        spec = {"t": env["XDG_RUNTIME_DIR"], "n": f"{name}.service", "N": name, "%": "%"}
        unit_env = {k: expand([v], spec)[0] for (a,) in cmds.get("Environment", []) for k, v in [a.split("=", 1)]}
        if name == "web":
            unit_env["NOTIFY_SOCKET"] = listener.path
        for key in ("ExecStartPre", "ExecStart"):
            for argv in cmds.get(key, []):
                ignore = argv[0].startswith("-")
                argv = expand([argv[0].lstrip("-"), *argv[1:]], spec)
                r = run_unit_line(env, argv, unit_env)
                assert r.returncode == 0 or ignore, f"{name} {key}: {r.stderr}"
    assert ok(run_rpod(env, "volume", "inspect", "-f", "{{.Labels.kind}}", "systemd-data")).stdout == "data\n"
    fmt = "{{.State.Status}} {{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}} {{index .Config.Labels \"tier\"}}"
    assert ok(run_rpod(env, "inspect", "-f", fmt, "systemd-web")).stdout == "running web.service front\n"
    try:
        seen = listener.wait_for("READY", timeout=60)
    finally:
        listener.close()
    monitor = ok(run_rpod(env, "inspect", "-f", "{{.State.ConmonPid}}", "systemd-web")).stdout.strip()
    assert seen["READY"] == "1" and seen.get("MAINPID") == monitor
    import time

    deadline = time.monotonic() + 30
    while "hello from" not in run_rpod(env, "logs", "systemd-web").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "hello from" in ok(run_rpod(env, "logs", "systemd-web")).stdout
    spec = {"t": env["XDG_RUNTIME_DIR"], "n": "web.service", "N": "web", "%": "%"}
    for key in ("ExecStop", "ExecStopPost"):
        for argv in web[key]:
            r = run_unit_line(env, expand([argv[0].lstrip("-"), *argv[1:]], spec), {})
            assert r.returncode == 0, f"{key}: {r.stderr}"
    assert ok(run_rpod(env, "ps", "-a", "-q")).stdout == ""
