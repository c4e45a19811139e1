"""``kube generate`` fields Podman 4.3.1's own tests (710-kube.bats) check: per-container
annotations, the capabilities dropped from runtime-tools' defaults, ``command``, names kept as given
(case included), a pod's host name, ``restartPolicy: Never``, ports on the first container,
``status: {}``; the output still validates against the Kubernetes schemas."""

from __future__ import annotations

from tests.support.rpodcli import RpodEnv, ok, run_rpod

DROP = {"drop": ["CAP_MKNOD", "CAP_NET_RAW", "CAP_AUDIT_WRITE"]}


def _docs(text: str) -> list[dict]:
    import kubernetes_validate
    import yaml

    docs = [d for d in yaml.safe_load_all(text) if d]
    for d in docs:
        kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)
    return docs


def test_generate_container_as_podman(env: RpodEnv) -> None:
    ok(run_rpod(env, "container", "create", "--name", "cAbc", "alpine", "top"))
    try:
        pod = _docs(ok(run_rpod(env, "kube", "generate", "cAbc")).stdout)[0]
        ann = pod["metadata"]["annotations"]
        assert ann["io.kubernetes.cri-o.TTY/cAbc"] == "false"
        for key in ("autoremove", "init", "privileged", "publish-all"):
            assert ann[f"io.podman.annotations.{key}/cAbc"] == "FALSE"
        assert pod["metadata"]["name"] == "cAbc-pod" and pod["metadata"]["labels"]["app"] == "cAbc-pod"
        c = pod["spec"]["containers"][0]
        assert c["name"] == "cAbc" and c["command"] == ["top"] and "args" not in c
        assert c["securityContext"]["capabilities"] == DROP
        assert "status" not in pod
    finally:
        ok(run_rpod(env, "rm", "cAbc"))
    ok(run_rpod(env, "create", "--name", "capped", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "alpine"))
    try:
        c = _docs(ok(run_rpod(env, "generate", "kube", "capped")).stdout)[0]["spec"]["containers"][0]
        assert c["securityContext"]["capabilities"] == {
            "add": ["CAP_NET_ADMIN"], "drop": ["CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW", "CAP_AUDIT_WRITE"]}
        assert "command" not in c  # the image's own command is left out
    finally:
        ok(run_rpod(env, "rm", "capped"))


def test_generate_pod_as_podman(env: RpodEnv) -> None:
    pod_id = ok(run_rpod(env, "pod", "create", "--name", "pGen", "--publish", "9999:8888")).stdout.strip()
    try:
        r = run_rpod(env, "kube", "generate", "pGen")
        assert r.returncode == 125 and "only has an infra container" in r.stderr
        ok(run_rpod(env, "container", "create", "--name", "c1", "--pod", "pGen", "alpine", "top"))
        ok(run_rpod(env, "container", "create", "--name", "c2", "--pod", "pGen", "alpine", "bottom"))
        pod = _docs(ok(run_rpod(env, "kube", "generate", "pGen")).stdout)[0]
        ann = pod["metadata"]["annotations"]
        for c in ("c1", "c2"):
            assert ann[f"io.kubernetes.cri-o.ContainerType/{c}"] == "container"
            assert ann[f"io.kubernetes.cri-o.SandboxID/{c}"] == pod_id[:63]  # values cut at 63, as Podman
        assert pod["metadata"]["name"] == "pGen" and pod["spec"]["hostname"] == "pGen"
        assert pod["spec"]["restartPolicy"] == "Never" and pod["status"] == {}
        c1, c2 = pod["spec"]["containers"]
        assert (c1["command"], c2["command"]) == (["top"], ["bottom"])
        assert c1["ports"] == [{"containerPort": 8888, "hostPort": 9999}] and "ports" not in c2
        assert c1["resources"] == {} and c2["resources"] == {}
        assert c1["securityContext"]["capabilities"] == DROP
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "pGen"))
    r = ok(run_rpod(env, "kube", "generate", "--help"))
    assert "kube generate [options] {CONTAINER...|POD...|VOLUME...}" in r.stdout
