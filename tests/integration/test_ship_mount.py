"""``rpod image mount``/``unmount``: only inside ``rpod unshare``, as Podman rootless."""

from __future__ import annotations

import sys

from tests.support.images import ImageSet
from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_image_mount_inside_unshare(env: RpodEnv, images: ImageSet) -> None:
    ref = images.ref("layered")
    outside = run_rpod(env, "image", "mount", ref)
    assert outside.returncode == 125
    assert "must execute `rpod unshare` first" in outside.stderr
    rpod = f"{sys.executable} -m rpod"
    script = (f'set -e; m=$({rpod} image mount {ref}); echo "$m"; cat "$m/etc/alpine-release"; '
              f'test ! -e "$m/opt/app/a"; {rpod} image mount | grep -c layered; '
              f'touch "$m/x" 2>/dev/null && echo writable || echo readonly; '
              f'{rpod} image unmount {ref}; {rpod} image mount | wc -l; test -z "$(ls -A $m 2>/dev/null)"')
    out = ok(run_rpod(env, "unshare", "sh", "-c", script)).stdout.splitlines()
    image_id = ok(run_rpod(env, "image", "inspect", "--format", "{{.Id}}", ref)).stdout.strip()
    assert out[0].endswith(f"/image-mounts/{image_id}/merged")
    assert out[1:] == ["3.20.3", "1", "readonly", image_id, "0"]
