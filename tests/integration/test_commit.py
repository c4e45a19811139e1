"""``rpod commit``: a container's upper dir as a layer, ``--change``, ``-m``, ``-a``."""

from __future__ import annotations

import json

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_commit_changes_and_runs(module_env: RpodEnv) -> None:
    ok(run_rpod(module_env, "run", "--name", "c1", "alpine", "sh", "-c",
                "echo made > /made.txt && rm /etc/motd && mkdir -p /d && ln /made.txt /d/link"))
    r = ok(run_rpod(module_env, "commit", "-q", "-m", "my message", "-a", "me <me@x>",
                    "--change", 'CMD ["cat", "/made.txt"]', "--change", "ENV FOO=bar", "--change", "LABEL l=v",
                    "c1", "committed:1"))
    image_id = r.stdout.strip()
    assert len(image_id) == 64 and r.stderr == ""
    assert ok(run_rpod(module_env, "run", "--rm", "committed:1")).stdout == "made\n"
    out = ok(run_rpod(module_env, "run", "--rm", "committed:1", "sh", "-c",
                      "test -e /etc/motd || echo gone; stat -c %h /d/link; echo $FOO")).stdout
    assert out.split() == ["gone", "2", "bar"]
    doc = json.loads(ok(run_rpod(module_env, "image", "inspect", "committed:1")).stdout)[0]
    assert doc["Config"]["Labels"]["l"] == "v" and doc["Author"] == "me <me@x>"
    hist = json.loads(ok(run_rpod(module_env, "image", "inspect", "--format", "{{json .}}", "committed:1")).stdout)
    assert hist["Id"] == image_id
    bad = run_rpod(module_env, "commit", "--change", "RUN x", "c1")
    assert bad.returncode == 125 and "not allowed" in bad.stderr
    ok(run_rpod(module_env, "rm", "c1"))


def test_commit_format_squash_and_volumes(module_env: RpodEnv) -> None:
    ok(run_rpod(module_env, "volume", "create", "cvol"))
    ok(run_rpod(module_env, "run", "--name", "c2", "-v", "cvol:/data", "alpine", "sh", "-c", "echo v > /new.txt"))
    ok(run_rpod(module_env, "container", "commit", "-q", "--format", "docker", "--squash", "--include-volumes",
                "c2", "c2img"))
    doc = json.loads(ok(run_rpod(module_env, "image", "inspect", "c2img")).stdout)[0]
    assert doc["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert len(doc["RootFS"]["Layers"]) == 1 and "/data" in doc["Config"]["Volumes"]
    assert ok(run_rpod(module_env, "run", "--rm", "c2img", "cat", "/new.txt")).stdout == "v\n"
    missing = run_rpod(module_env, "commit", "no-such-container", "x")
    assert missing.returncode == 125 and "no-such-container" in missing.stderr
    ok(run_rpod(module_env, "rm", "c2"))


def test_commit_keeps_the_entrypoint_the_container_ran(module_env: RpodEnv) -> None:
    """030-run "docker-archive": ``--entrypoint`` (which drops the image's CMD) is committed."""
    ok(run_rpod(module_env, "run", "--name", "epc", "--network", "none", "--entrypoint=[\"/bin/echo\",\"rand-ep\"]",
                "alpine"))
    ok(run_rpod(module_env, "commit", "-q", "epc", "epimg"))
    assert ok(run_rpod(module_env, "run", "--rm", "--network", "none", "epimg")).stdout == "rand-ep\n"
    ok(run_rpod(module_env, "rm", "epc"))
    ok(run_rpod(module_env, "rmi", "epimg"))
