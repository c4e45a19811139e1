"""Pod behaviours Podman 4.3.1's own system tests (200-pod.bats) check, each measured against
Podman here: its words for bad ``--share``/``--exit-policy``, ``--hostname`` with ``--pod new:``
and with a shared UTS namespace, template fields (``.ID``, ``.InfraConfig.PortBindings``), the
pause image's name, host-network pods."""

from __future__ import annotations

from pathlib import Path

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
        member = ok(run_rpod(env, "run", "-d", "--pod", "tp", "alpine", "sleep", "300")).stdout.strip()
        r = ok(run_rpod(env, "ps", "--filter", f"id={member}", "--format", "{{.Ports}}"))
        assert r.stdout == f"0.0.0.0:{port}->80/tcp\n"  # a member shows its pod's published ports, as Podman
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


def test_pod_members_share_dev_shm(env: RpodEnv) -> None:
    ok(run_rpod(env, "pod", "create", "--name", "shmpod"))
    try:
        ok(run_rpod(env, "run", "--rm", "--pod", "shmpod", "alpine", "sh", "-c", "echo hi > /dev/shm/test1"))
        r = ok(run_rpod(env, "run", "--rm", "--pod", "shmpod", "alpine", "cat", "/dev/shm/test1"))
        assert r.stdout == "hi\n"  # the infra's /dev/shm, which outlives the first member
        # the pod holds only its (running) infra and an exited member: pod rm needs no --force
        ok(run_rpod(env, "run", "--pod", "shmpod", "alpine", "true"))
        ok(run_rpod(env, "pod", "rm", "shmpod"))
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""
    r = run_rpod(env, "pod", "rm", "--force", "bogus")  # --force ignores a missing pod, as Podman
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert run_rpod(env, "pod", "rm", "bogus").returncode == 1


def test_rm_depend_and_all_remove_the_infra_with_its_pod(env: RpodEnv) -> None:
    try:
        member = ok(run_rpod(env, "create", "--pod", "new:deppod", "alpine", "true")).stdout.strip()
        infra = ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraContainerID}}", "deppod")).stdout.strip()
        r = run_rpod(env, "rm", "--force", infra)
        assert r.returncode == 125 and "and cannot be removed without removing the pod" in r.stderr
        r = ok(run_rpod(env, "container", "rm", "--depend", infra))
        assert set(r.stdout.split()) == {infra, member}
        assert run_rpod(env, "pod", "exists", "deppod").returncode == 1
        m1 = ok(run_rpod(env, "create", "--pod", "new:deppod", "alpine", "true")).stdout.strip()
        m2 = ok(run_rpod(env, "create", "--pod", "deppod", "alpine", "true")).stdout.strip()
        lone = ok(run_rpod(env, "create", "alpine", "true")).stdout.strip()
        infra = ok(run_rpod(env, "pod", "inspect", "--format", "{{.InfraContainerID}}", "deppod")).stdout.strip()
        r = ok(run_rpod(env, "container", "rm", "--force", "--all"))
        assert set(r.stdout.split()) == {infra, m1, m2, lone}
    finally:
        run_rpod(env, "pod", "rm", "-f", "-t", "0", "-a")
    assert ok(run_rpod(env, "ps", "-aq")).stdout == ""


def test_infra_command_is_the_infra_entrypoint(env: RpodEnv) -> None:
    """``--infra-command`` replaces the infra image's entrypoint (Podman); inspect's
    ``Config.Entrypoint`` is one string, as Podman 4.3.1's."""
    ok(run_rpod(env, "pod", "create", "--name", "ic", "--infra-image", "alpine", "--infra-command",
                '["sleep", "300"]', "--infra-name", "ic-infra"))
    try:
        infra = ok(run_rpod(env, "pod", "inspect", "--format", "{{(index .Containers 0).ID}}", "ic")).stdout.strip()
        assert ok(run_rpod(env, "container", "inspect", "--format", "{{.Name}}", infra)).stdout == "ic-infra\n"
        r = ok(run_rpod(env, "container", "inspect", "--format", "{{.Config.Entrypoint}}", infra))
        assert r.stdout == "sleep 300\n"
        ok(run_rpod(env, "pod", "start", "ic"))
        assert ok(run_rpod(env, "inspect", "--format", "{{.State.Running}}", "ic-infra")).stdout == "true\n"
    finally:
        ok(run_rpod(env, "pod", "rm", "-f", "-t", "0", "ic"))


def test_infra_image_from_containers_conf_and_pull_error_words(env: RpodEnv, tmp_path: Path) -> None:
    image = "127.0.0.1:1/not/exist:image"  # nothing listens on port 1: the pull fails at once
    r = run_rpod(env, "pod", "create", "--infra-image", image)
    assert r.returncode == 125 and f"initializing source docker://{image}: " in r.stderr
    conf = tmp_path / "containers.conf"
    conf.write_text(f'[engine]\ninfra_image="{image}"\n')
    import copy

    conf_env = copy.copy(env)
    conf_env["CONTAINERS_CONF"] = str(conf)
    r = run_rpod(conf_env, "pod", "create")
    assert r.returncode == 125 and f"initializing source docker://{image}: " in r.stderr
    r = run_rpod(conf_env, "create", "--pod", "new:confpod", "alpine")
    assert r.returncode == 125 and f"initializing source docker://{image}: " in r.stderr
    assert ok(run_rpod(env, "pod", "ps", "-q")).stdout == "" and ok(run_rpod(env, "ps", "-aq")).stdout == ""
