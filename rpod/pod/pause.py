"""The infra image: ``localhost/podman-pause:VERSION-BUILT``, one layer holding the host's catatonit.

Podman builds its image of that name (``version``'s ``.Server.Version-.Server.Built``, which scripts
and Podman's own tests compute) the same way on first use (catatonit copied into a scratch image),
so no registry is needed for pods.  The layer is written straight into the
store: the user owns its files, which is root in the container, as an unpacked layer's root files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from typing import Any

from rpod import __version__, built
from rpod.errors import RpodError
from rpod.paths import Paths

PAUSE_NAME = f"localhost/podman-pause:{__version__}-{built()}"
CATATONIT_CANDIDATES = ("/usr/bin/catatonit", "/usr/libexec/catatonit/catatonit", "/usr/libexec/podman/catatonit")
INFRA_COMMAND = ["/catatonit", "-P"]


def catatonit() -> str:
    for path in CATATONIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("catatonit")
    if found:
        return found
    raise RpodError("catatonit is not installed: pods need it for their infra container",
                    hint="apt-get install catatonit, or use --infra-image IMAGE (or --infra=false)")


def ensure_pause_image(paths: Paths) -> str:
    """The infra image's name, built into the store first if missing."""
    from rpod.image.store import ImageRecord, ImageStore

    store = ImageStore(paths)
    if any(PAUSE_NAME in r.names for r in store.list()):
        return PAUSE_NAME
    src = catatonit()
    with open(src, "rb") as f:
        data = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("catatonit")
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        tar.addfile(info, io.BytesIO(data))
    layer = buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    _write_layer(paths, diff_id, data, len(layer))
    config = {"architecture": _arch(), "os": "linux", "created": "1970-01-01T00:00:00Z",
              "config": {"Entrypoint": INFRA_COMMAND, "WorkingDir": "/",
                         "Labels": {"io.buildah.version": "rpod", "io.rpod.infra": "true"}},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    store.write_blob(config_digest, config_bytes)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                           "size": len(config_bytes)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff_id,
                            "size": len(layer)}]}
    manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    store.write_blob(manifest_digest, manifest_bytes)
    store.put(ImageRecord(id=config_digest.partition(":")[2], names=[PAUSE_NAME], digest=manifest_digest,
                          layers=[diff_id], manifest_digest=manifest_digest,
                          manifest_type=manifest["mediaType"], created=config["created"], size=len(data),
                          architecture=config["architecture"], os="linux", pulled_at=time.time()))
    return PAUSE_NAME


def _write_layer(paths: Paths, diff_id: str, data: bytes, tar_size: int) -> None:
    from rpod.storefile import atomic_write_json

    final = paths.layer_dir(diff_id)
    if (final / "layer.json").exists():
        return
    paths.tmp.mkdir(parents=True, exist_ok=True)
    scratch = paths.tmp / f"pause-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "diff").mkdir(parents=True)
    target = scratch / "diff" / "catatonit"
    target.write_bytes(data)
    os.chmod(target, 0o755)
    os.chmod(scratch / "diff", 0o755)
    atomic_write_json(scratch / "layer.json", {"diff_id": diff_id, "compressed_digest": diff_id,
                                               "compressed_size": tar_size, "media_type": "tar",
                                               "size": len(data), "created": time.time()})
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(scratch, final)
    except OSError:  # another CLI made it first
        shutil.rmtree(scratch, ignore_errors=True)


def _arch() -> str:
    from rpod.hostfacts import host_arch

    return host_arch()


def conf_infra_image() -> str:
    """``[engine] infra_image`` of the file ``CONTAINERS_CONF`` names (read only when it is set)."""
    from rpod.containersconf import engine_str

    return engine_str("infra_image")


def infra_spec(pod: Any) -> tuple[str, list[str]]:
    """(image, command) of a pod's infra container."""
    return pod.infra_image or PAUSE_NAME, list(pod.infra_command or ([] if pod.infra_image else INFRA_COMMAND))
