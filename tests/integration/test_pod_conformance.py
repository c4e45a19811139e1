"""Pod behaviours Podman 4.3.1's own system tests (200-pod.bats) check, each measured against
Podman here: its words for bad ``--share``/``--exit-policy``, ``--hostname`` with ``--pod new:``
and with a shared UTS namespace, template fields (``.ID``, ``.InfraConfig.PortBindings``), the
pause image's name, host-network pods."""

from __future__ import annotations

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_podman_words_for_bad_share_and_exit_policy(env: RpodEnv) -> None:
    r = run_rpod(env, "pod", "create", "--share", "bogus")
    assert r.returncode == 125
    assert r.stderr == ("Error: invalid kernel namespace to share: bogus. Options are: cgroup, ipc, net, pid, "
                        "uts or none\n")
    r = run_rpod(env, "pod", "create", "--exit-policy", "invalid")
    assert r.returncode == 125
    assert r.stderr == 'Error: running pod create option: invalid pod exit policy: "invalid"\n'
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == ""


def test_hostname_with_new_pod_and_with_a_shared_uts(env: RpodEnv) -> None:
    try:
        r = ok(run_rpod(env, "run", "--rm", "--pod", "new:hpod", "--hostname", "foobar", "alpine", "hostname"))
        assert r.stdout == "foobar\n"  # given to the new pod, as Podman
        ok(run_rpod(env, "pod", "rm", "hpod"))
        assert ok(run_rpod(env, "run", "--rm", "--pod", "new:hpod", "alpine", "hostname")).stdout == "hpod\n"
        r = run_rpod(env, "run", "--rm", "--pod", "hpod", "--hostname", "other", "alpine", "hostname")
        assert r.returncode == 125 and ("invalid config provided: cannot set hostname when joining the pod UTS "
                                        "namespace: invalid configuration") in r.stderr
        ok(run_rpod(env, "pod", "create", "--share", "ipc", "--name", "ipconly"))
        r = ok(run_rpod(env, "run", "--rm", "--pod", "ipconly", "--hostname", "own", "alpine", "hostname"))
        assert r.stdout == "own\n"  # no shared UTS: the container's own name
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")


def test_pod_inspect_templates_and_pause_image_name(env: RpodEnv) -> None:
    from tests.integration.test_network import free_port

    port = free_port()
    pod_id = ok(run_rpod(env, "pod", "create", "--name", "tp", "-p", f"{port}:80")).stdout.strip()
    try:
        infra = ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraContainerID}}", "tp")).stdout.strip()
        r = ok(run_rpod(env, "pod", "inspect", "--format", "{{.ID}} {{(index .Containers 0).ID}}", "tp"))
        assert r.stdout == f"{pod_id} {infra}\n"
        r = ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraConfig.PortBindings}}", "tp"))
        assert r.stdout == f"map[80/tcp:[{{ {port}}}]]\n"
        # the infra image is Podman's name: localhost/podman-pause:VERSION-BUILT (of `version`)
        tag = ok(run_rpod(env, "version", "--format", "{{.Server.Version}}-{{.Server.Built}}")).stdout.strip()
        ok(run_rpod(env, "image", "exists", f"localhost/podman-pause:{tag}"))
        assert ok(run_rpod(env, "inspect", "--format", "{{.ImageName}}", infra)).stdout.strip() == \
            f"localhost/podman-pause:{tag}"
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "tp"))


def test_host_network_pod_members_run_on_the_host_network(env: RpodEnv) -> None:
    import os

    ok(run_rpod(env, "pod", "create", "--name", "hostnet", "--network", "host"))
    try:
        assert ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraConfig.HostNetwork}}", "hostnet")
                  ).stdout == "true\n"
        r = ok(run_rpod(env, "run", "--rm", "--pod", "hostnet", "alpine", "readlink", "/proc/self/ns/net"))
        assert r.stdout.strip() == os.readlink("/proc/self/ns/net")
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "hostnet"))
