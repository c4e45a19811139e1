"""``kube play`` of a Deployment + ConfigMap + Secret + PVC serving on its hostPort, ``kube down``
removing all of it; ``generate kube`` output that validates against the Kubernetes OpenAPI schemas
(kubernetes-validate, schemas shipped offline) and plays back to the same app."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_network import benv, free_port, http_get
from tests.support.rpodcli import RpodEnv, ok, run_rpod

__all__ = ["benv"]

APP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  GREETING: hello-kube
  index.html: from-configmap
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
type: Opaque
data:
  password: czNjcmV0
stringData:
  token: tok-1
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: web-data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
      annotations:
        team: kube
    spec:
      restartPolicy: Always
      containers:
      - name: server
        image: busybox
        command: ["sh", "-c"]
        args: ["cp /config/index.html /data/index.html && echo $GREETING-$PASSWORD > /data/env.txt && pwd > /data/pwd.txt && exec httpd -f -p 8080 -h /data"]
        workingDir: /data
        ports:
        - containerPort: 8080
          hostPort: {port}
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef: {{name: web-secret, key: password}}
        envFrom:
        - configMapRef: {{name: web-config}}
        volumeMounts:
        - {{name: config, mountPath: /config}}
        - {{name: data, mountPath: /data}}
        - {{name: secret, mountPath: /secret, readOnly: true}}
        livenessProbe:
          exec:
            command: ["true"]
          periodSeconds: 5
        resources:
          limits: {{memory: 64Mi, cpu: 500m}}
      - name: sidecar
        image: busybox
        command: ["sleep", "300"]
        securityContext:
          runAsUser: 1000
          capabilities:
            drop: [ALL]
      volumes:
      - name: config
        configMap: {{name: web-config}}
      - name: data
        persistentVolumeClaim: {{claimName: web-data}}
      - name: secret
        secret: {{secretName: web-secret}}
"""


def test_kube_play_deployment_configmap_secret_pvc_and_down(benv: RpodEnv, tmp_path: Path) -> None:
    env = benv
    port = free_port()
    yml = tmp_path / "app.yaml"
    yml.write_text(APP.format(port=port))
    r = ok(run_rpod(env, "kube", "play", str(yml), timeout=120))
    lines = r.stdout.split("\n")
    assert lines[:2] == ["Volumes:", "web-data"] and lines[2] == "Pod:" and lines[4] == "Containers:", r.stdout
    pod_id = lines[3]
    try:
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "from-configmap"
        assert http_get(f"http://127.0.0.1:{port}/env.txt").strip() == "hello-kube-s3cret"
        assert http_get(f"http://127.0.0.1:{port}/pwd.txt").strip() == "/data"
        r = ok(run_rpod(env, "exec", "web-pod-0-sidecar", "sh", "-c",
                        "id -u; wget -qO- http://localhost:8080/env.txt"))
        assert r.stdout.split() == ["1000", "hello-kube-s3cret"]
        r = ok(run_rpod(env, "exec", "web-pod-0-server", "sh", "-c", "cat /secret/token /secret/password"))
        assert r.stdout == "tok-1s3cret"
        ok(run_rpod(env, "healthcheck", "run", "web-pod-0-server"))
        doc = json.loads(ok(run_rpod(env, "pod", "inspect", "web-pod-0")).stdout)
        assert doc["Id"] == pod_id and doc["State"] == "Running" and doc["Labels"] == {"app": "web"}
        ann = ok(run_rpod(env, "inspect", "--format", "{{index .Config.Annotations \"team\"}}",
                          "web-pod-0-server")).stdout.strip()
        assert ann == "kube"
        r = run_rpod(env, "kube", "play", str(yml))
        assert r.returncode == 125 and "web-pod-0" in r.stderr  # the pod exists already
        ok(run_rpod(env, "kube", "play", "--replace", "--start=false", str(yml), timeout=120))
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Name}} {{.Status}}")).stdout == "web-pod-0 Created\n"
    finally:
        r = run_rpod(env, "kube", "down", "--force", str(yml), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Pods stopped:\n") and "Pods removed:\n" in r.stdout and "web-data" in r.stdout
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""
    assert not list((Path(env["XDG_DATA_HOME"]) / "rpod" / "kube").glob("*"))


def test_generate_kube_validates_and_plays_back(benv: RpodEnv, tmp_path: Path) -> None:
    import kubernetes_validate
    import yaml

    env = benv
    port = free_port()
    ok(run_rpod(env, "volume", "create", "site"))
    ok(run_rpod(env, "pod", "create", "--name", "gen_app", "-p", f"{port}:80", "--label", "tier=front"))
    ok(run_rpod(env, "run", "-d", "--pod", "gen_app", "--name", "gen_app-web", "-v", "site:/www",
                "-e", "GREETING=round-trip", "--restart", "always", "busybox", "sh", "-c",
                "echo $GREETING > /www/index.html && exec httpd -f -p 80 -h /www"))
    assert http_get(f"http://127.0.0.1:{port}/").strip() == "round-trip"
    text = ok(run_rpod(env, "generate", "kube", "--service", "gen_app", "site")).stdout
    assert text == ok(run_rpod(env, "kube", "generate", "--service", "gen_app", "site")).stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "Pod", "Service"]
    for d in docs:
        kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)
    pod = docs[1]
    assert pod["metadata"]["name"] == "gen-app" and pod["metadata"]["labels"]["tier"] == "front"
    web = pod["spec"]["containers"][0]
    assert web["name"] == "web" and web["ports"] == [{"containerPort": 80, "hostPort": port}]
    assert {"name": "GREETING", "value": "round-trip"} in web["env"]
    assert pod["spec"]["restartPolicy"] == "Always"
    # a generated file plays back: remove the originals, play it, the app serves again
    ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "gen_app"))
    out = tmp_path / "gen.yaml"
    out.write_text(text)
    try:
        ok(run_rpod(env, "kube", "play", str(out), timeout=120))
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "round-trip"
        assert ok(run_rpod(env, "pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}")).stdout == "gen-app 2\n"
    finally:
        ok(run_rpod(env, "kube", "down", "--force", str(out), timeout=120))
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    assert ok(run_rpod(env, "volume", "ls", "-q")).stdout == ""


def test_generate_kube_names_a_cluster_would_refuse(env: RpodEnv) -> None:
    """Podman keeps a mixed-case name as given (its tests check it); on a terminal (here
    RPOD_HINTS=1) rpod says kubectl apply would refuse it, and never in a pipe."""
    ok(run_rpod(env, "create", "--name", "MixedCase", "alpine", "true"))
    try:
        r = ok(run_rpod(env, "generate", "kube", "MixedCase"))
        assert "name: MixedCase-pod" in r.stdout and "Hint" not in r.stderr
        r = ok(run_rpod(dict(env, RPOD_HINTS="1"), "generate", "kube", "MixedCase"))
        assert "Hint: 'MixedCase-pod' is not a valid Kubernetes name" in r.stderr
        assert "Hint: 'MixedCase' is not a valid Kubernetes name" in r.stderr
    finally:
        ok(run_rpod(env, "rm", "MixedCase"))
