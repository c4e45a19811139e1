"""``rpod import``: the offline path (Alpine's minirootfs tarball → an image that runs), as Podman."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.images import ALPINE_X86_64
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_import_minirootfs_runs_and_matches_podmans_config(rpod_env: RpodEnv) -> None:
    r = ok(run_rpod(rpod_env, "import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV FOO=bar",
                    "-m", "hello msg", str(ALPINE_X86_64), "alpimp"))
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert "Writing manifest to image destination" in r.stderr
    out = ok(run_rpod(rpod_env, "run", "--rm", "--network=none", "alpimp", "sh", "-c", "cat /etc/alpine-release; echo $FOO"))
    assert out.stdout.split() == ["3.20.3", "bar"]
    doc = json.loads(ok(run_rpod(rpod_env, "image", "inspect", "alpimp")).stdout)[0]
    assert doc["Id"] == image_id.removeprefix("sha256:")
    assert doc["RepoTags"] == ["localhost/alpimp:latest"]
    assert doc["Config"]["Cmd"] == ["/bin/sh"]
    # the layer is the tarball's content: Podman's import of the same file has the same diff_id
    # (sha256 of the decompressed tarball) and the same history line
    import gzip
    import hashlib

    diff = "sha256:" + hashlib.sha256(gzip.decompress(ALPINE_X86_64.read_bytes())).hexdigest()
    assert doc["RootFS"]["Layers"] == [diff]
    # the same import again is the same image (created is the file's mtime, as Podman)
    again = ok(run_rpod(rpod_env, "import", "-q", "--change", 'CMD ["/bin/sh"]', "--change", "ENV FOO=bar",
                        "-m", "hello msg", str(ALPINE_X86_64), "alpimp2"))
    assert again.stdout.strip() == image_id


def test_import_from_stdin_and_errors(rpod_env: RpodEnv, tmp_path: Path) -> None:
    import gzip
    import subprocess
    import sys

    raw = gzip.decompress(ALPINE_X86_64.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "rpod", "import", "-q", "-", "fromstdin:v1"], input=raw,
                          env=rpod_env, capture_output=True, cwd=rpod_env["HOME"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ok(run_rpod(rpod_env, "run", "--rm", "--network=none", "fromstdin:v1", "true"))
    missing = run_rpod(rpod_env, "import", str(tmp_path / "nope.tar"))
    assert missing.returncode == 125 and "no such file" in missing.stderr
    bad = run_rpod(rpod_env, "import", "--change", "FROM x", str(ALPINE_X86_64))
    assert bad.returncode == 125 and "invalid instruction" in bad.stderr
