"""Quadlet ``.pod`` (a pod service; ``.container`` with ``Pod=`` joins it) and ``.kube`` (kube play
as a service) files: converted, accepted by ``systemd-analyze verify``, and run as systemd would."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_network import free_port, http_get
from tests.integration.test_systemd_units import assert_verified, run_unit_line
from tests.support.rpodcli import RpodEnv, ok, run_rpod
from tests.support.systemd_units import expand, unit_commands


def quadlet_dir(env: RpodEnv) -> Path:
    d = Path(env["XDG_CONFIG_HOME"]) / "containers" / "systemd"
    d.mkdir(parents=True, exist_ok=True)
    return d


def section(out: str, name: str) -> str:
    start = out.index(f"---{name}---")
    nxt = out.find("\n---", start + 1)
    return out[start: nxt if nxt > 0 else None]


def run_lines(env: RpodEnv, text: str, unit: str, keys: tuple[str, ...]) -> None:
    cmds = unit_commands(text)
    spec = {"t": env["XDG_RUNTIME_DIR"], "n": f"{unit}.service", "N": unit, "%": "%"}
    for key in keys:
        for argv in cmds.get(key, []):
            ignore = argv[0].startswith("-")
            r = run_unit_line(env, expand([argv[0].lstrip("-"), *argv[1:]], spec), {})
            assert r.returncode == 0 or ignore, f"{unit} {key} {argv}: {r.stderr}"


def test_pod_and_kube_quadlets(env: RpodEnv, tmp_path: Path) -> None:
    ok(run_rpod(env, "pull", "-q", "busybox"))
    port, kport = free_port(), free_port()
    d = quadlet_dir(env)
    (d / "shop.pod").write_text(f"[Pod]\nPublishPort={port}:80\nLabel=app=shop\n\n[Install]\nWantedBy=default.target\n")
    (d / "front.container").write_text(
        "[Container]\nImage=busybox\nPod=shop.pod\n"
        "Exec=sh -c 'mkdir -p /www && echo quadlet-pod > /www/index.html && exec httpd -f -p 80 -h /www'\n")
    (d / "app.yaml").write_text(f"""\
apiVersion: v1
kind: Pod
metadata:
  name: kq
spec:
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo quadlet-kube > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - containerPort: 80
      hostPort: {kport}
""")
    (d / "kq.kube").write_text("[Kube]\nYaml=app.yaml\n")
    out = ok(run_rpod(env, "quadlet", "--dryrun", "--user")).stdout
    pod, front, kube = section(out, "shop-pod.service"), section(out, "front.service"), section(out, "kq.service")
    assert "BindsTo=shop-pod.service" in front and "--pod-id-file=%t/shop-pod.pod-id" in front
    assert "PIDFile=%t/%N.pid" in pod and "--name=systemd-shop" in pod
    assert f"{d / 'app.yaml'}" in kube
    units = tmp_path / "units"
    units.mkdir()
    for name, text in (("shop-pod.service", pod), ("front.service", front), ("kq.service", kube)):
        (units / name).write_text(text.split("\n", 1)[1])
    assert_verified(units, env)
    try:
        run_lines(env, pod, "shop-pod", ("ExecStartPre", "ExecStart"))
        run_lines(env, front, "front", ("ExecStartPre", "ExecStart"))
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "quadlet-pod"
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Name}} {{.Status}}")).stdout == "systemd-shop Running\n"
        run_lines(env, kube, "kq", ("ExecStart",))
        assert http_get(f"http://127.0.0.1:{kport}/").strip() == "quadlet-kube"
    finally:
        run_lines(env, kube, "kq", ("ExecStop",))
        run_lines(env, front, "front", ("ExecStop", "ExecStopPost"))
        run_lines(env, pod, "shop-pod", ("ExecStop", "ExecStopPost"))
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""
