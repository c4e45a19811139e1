"""``image sign`` (Podman's 011-image): a GPG simple-signing signature of an image in a registry,
stored as containers/image lays it out, that ``gpg --verify`` accepts and that names the image's
reference and manifest digest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod

KEY = """%no-protection
Key-Type: eddsa
Key-Curve: ed25519
Key-Usage: sign
Name-Real: Foo
Name-Email: foo@bar.com
Expire-Date: 0
%commit
"""


@pytest.fixture
def gnupg(tmp_path: Path) -> Iterator[dict[str, str]]:
    assert shutil.which("gpg"), "gpg is not installed"
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    r = subprocess.run(["gpg", "--batch", "--gen-key"], input=KEY, text=True, env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    yield env
    subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, timeout=60)


def test_sign_writes_a_verifiable_signature(rpod_env: RpodEnv, images: ImageSet, gnupg: dict[str, str],
                                            tmp_path: Path) -> None:
    env = rpod_env
    env["GNUPGHOME"] = gnupg["GNUPGHOME"]
    ref = images.ref("alpine")
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    ok(run_rpod(env, "image", "sign", "--sign-by", "foo@bar.com", "--directory", str(sigs), f"docker://{ref}"))
    ok(run_rpod(env, "pull", "-q", ref))
    digest = ok(run_rpod(env, "inspect", "--format", "{{.Digest}}", ref)).stdout.strip()
    repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
    sigdir = sigs / f"{repo}@{digest.replace(':', '=')}"
    assert sorted(p.name for p in sigdir.iterdir()) == ["signature-1"]
    v = subprocess.run(["gpg", "--verify", str(sigdir / "signature-1")], env=gnupg, capture_output=True, text=True)
    assert v.returncode == 0 and "Good signature from" in v.stderr and "<foo@bar.com>" in v.stderr, v.stderr
    signed = subprocess.run(["gpg", "--decrypt", str(sigdir / "signature-1")], env=gnupg, capture_output=True)
    doc = json.loads(signed.stdout)
    assert doc["critical"] == {"identity": {"docker-reference": ref}, "image": {"docker-manifest-digest": digest},
                               "type": "atomic container signature"}
    # a second signature goes beside the first
    ok(run_rpod(env, "image", "sign", "--sign-by", "foo@bar.com", "-d", str(sigs), f"docker://{ref}"))
    assert sorted(p.name for p in sigdir.iterdir()) == ["signature-1", "signature-2"]


def test_sign_errors(rpod_env: RpodEnv, images: ImageSet, tmp_path: Path) -> None:
    ref = images.ref("alpine")
    r = run_rpod(rpod_env, "image", "sign", f"docker://{ref}")
    assert r.returncode == 125 and r.stderr == "Error: please provide an identity\n"
    r = run_rpod(rpod_env, "image", "sign", "--sign-by", "x", "-d", str(tmp_path / "none"), f"docker://{ref}")
    assert r.returncode == 125 and r.stderr == f"Error: stat {tmp_path / 'none'}: no such file or directory\n"
    r = run_rpod(rpod_env, "image", "sign", "--sign-by", "x", ref)
    assert r.returncode == 125 and "expected colon-separated transport:reference" in r.stderr
