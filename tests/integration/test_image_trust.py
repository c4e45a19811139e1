"""``image trust set|show`` (Podman's 750-trust): the policy file written as Podman writes it,
the rows, ``--json`` and ``--raw``, and Podman's errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_trust_set_and_show(rpod_env: RpodEnv, tmp_path: Path) -> None:
    env = rpod_env
    pol = tmp_path / "policy.json"
    at = f"--policypath={pol}"
    r = run_rpod(env, "image", "trust", "set", at, "--type=bogus", "default")
    assert r.returncode == 125
    assert r.stderr == "Error: invalid choice: bogus (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')\n"
    r = run_rpod(env, "image", "trust", "set", at, "-t", "accept", "docker.io")
    assert r.returncode == 125 and r.stderr == "Error: default trust policy must be set\n"
    r = run_rpod(env, "image", "trust", "set", at, "default")  # signedBy needs keys
    assert r.returncode == 125 and "at least one public key must be defined for type 'signedBy'" in r.stderr
    ok(run_rpod(env, "image", "trust", "set", at, "--type=reject", "default"))
    ok(run_rpod(env, "image", "trust", "set", at, "-t", "reject", "docker.io"))
    ok(run_rpod(env, "image", "trust", "set", at, "-t", "accept", "docker.io"))
    assert json.loads(pol.read_text()) == {"default": [{"type": "reject"}],
                                           "transports": {"docker": {"docker.io": [{"type": "insecureAcceptAnything"}]}}}
    assert pol.read_text().startswith('{\n    "default": [\n        {\n            "type": "reject"')
    out = ok(run_rpod(env, "image", "trust", "show", at)).stdout
    assert out == ("TRANSPORT   NAME        TYPE        ID          STORE\n"
                   f"all         default     reject{' ' * 18}\n"
                   f"repository  docker.io   accept{' ' * 18}\n")
    rows = json.loads(ok(run_rpod(env, "image", "trust", "show", at, "--json")).stdout)
    assert [(r["repo_name"], r["type"]) for r in rows] == [("default", "reject"), ("docker.io", "accept")]
    assert rows[0] == {"transport": "all", "name": "* (default)", "repo_name": "default", "type": "reject"}
    assert ok(run_rpod(env, "image", "trust", "show", at, "--raw")).stdout == pol.read_text() + "\n"
    assert ok(run_rpod(env, "image", "trust", "show", at, "-n")).stdout.startswith("all ")
    r = run_rpod(env, "image", "trust", "show", f"--policypath={tmp_path / 'none.json'}")
    assert r.returncode == 125 and r.stderr == f"Error: open {tmp_path / 'none.json'}: no such file or directory\n"


def test_trust_show_reports_the_lookaside_store(rpod_env: RpodEnv, tmp_path: Path) -> None:
    env = rpod_env
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}],
                               "transports": {"docker": {"example.com/team": [{"type": "reject"}]}}}))
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text("default-docker:\n  sigstore: file:///var/sigs\n"
                                 "docker:\n  example.com:\n    lookaside: https://sigs.example.com\n")
    rows = json.loads(ok(run_rpod(env, "image", "trust", "show", f"--policypath={pol}",
                                  f"--registrypath={regd}", "--json")).stdout)
    assert [(r["name"], r["sigstore"]) for r in rows] == [("* (default)", "file:///var/sigs"),
                                                          ("example.com/team", "https://sigs.example.com")]
