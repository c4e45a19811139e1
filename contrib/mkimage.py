#!/usr/bin/env python3
"""Make a one-layer OCI image layout from a directory (stdlib only).

Used by ``contrib/quickstart.sh`` to build an image from what Debian provides
when there is no internet, so the first container still goes through rpod's
real pull path (a local registry fed by ``skopeo copy oci:DIR docker://...``).

    mkimage.py ROOTFS_DIR OUT_LAYOUT_DIR --tag latest --cmd sh [--env K=V]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import tarfile
import time
from pathlib import Path

EPOCH = 0  # reproducible: every file gets the same mtime


def _add_blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def layer_tar(rootfs: Path) -> bytes:
    """A tar of ``rootfs`` with root ownership and fixed mtimes, entries sorted."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = Path(dirpath) / name
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = EPOCH
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rootfs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--cmd", action="append", default=None)
    ap.add_argument("--env", action="append", default=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    args = ap.parse_args()

    blobs = args.out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    raw = layer_tar(args.rootfs)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    layer_digest, layer_size = _add_blob(blobs, gzip.compress(raw, compresslevel=6, mtime=0))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = {
        "created": created,
        "architecture": arch,
        "os": "linux",
        "config": {"Env": args.env, "Cmd": args.cmd or ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "contrib/mkimage.py"}],
    }
    config_digest, config_size = _add_blob(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": layer_size}],
    }
    m_digest, m_size = _add_blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest,
                       "size": m_size, "annotations": {"org.opencontainers.image.ref.name": args.tag}}],
    }
    (args.out / "index.json").write_text(json.dumps(index))
    (args.out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    print(m_digest)


if __name__ == "__main__":
    main()
