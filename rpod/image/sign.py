"""``image sign``: GPG "simple signing" signatures of images in a registry, stored as
containers/image lays them out (``DIR/REPO@sha256=HEX/signature-N``).

The signed payload names the image's reference and its manifest digest (containers-signature(5)),
signed with ``gpg --sign`` (an attached signature, as gpgme's normal mode makes).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rpod import __version__
from rpod.errors import RpodError, UsageError


def payload(reference: str, digest: str) -> bytes:
    """The ``atomic container signature`` document for ``reference`` at ``digest``."""
    doc = {"critical": {"identity": {"docker-reference": reference},
                        "image": {"docker-manifest-digest": digest},
                        "type": "atomic container signature"},
           "optional": {"creator": f"rpod {__version__}", "timestamp": int(time.time())}}
    return json.dumps(doc, separators=(",", ":")).encode()


def gpg_sign(data: bytes, key: str) -> bytes:
    """``data`` signed by ``key`` (gpg's own keyring: ``$GNUPGHOME``)."""
    try:
        proc = subprocess.run(["gpg", "--batch", "--no-tty", "--sign", "--local-user", key], input=data,
                              capture_output=True, check=False)
    except FileNotFoundError:
        raise RpodError("signing is not supported: gpg is not installed") from None
    if proc.returncode != 0:
        raise RpodError(f"signing: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def lookaside_dir(scope: str) -> Path:
    """Where signatures of ``scope`` (``registry/repository``) are written when no ``--directory``
    is given: registries.d's ``lookaside-staging``/``sigstore-staging``, else its
    ``lookaside``/``sigstore`` (``file://`` only), else ``~/.local/share/containers/sigstore``."""
    from rpod.image.trust import registries_d_namespace, registries_d_path

    ns = registries_d_namespace(registries_d_path(), scope) or {}
    url = next((ns[k] for k in ("lookaside-staging", "sigstore-staging", "lookaside", "sigstore") if ns.get(k)), "")
    if not url:
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return data / "containers" / "sigstore"
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise RpodError(f"writing to {url} is not supported. Use a supported scheme")
    return Path(parsed.path)


def store_signature(base: Path, digest: str, signature: bytes) -> Path:
    """Write ``signature`` as the next free ``signature-N`` under ``base@ALGO=HEX``."""
    algo, _, hexpart = digest.partition(":")
    d = Path(f"{base}@{algo}={hexpart}")
    d.mkdir(mode=0o751, parents=True, exist_ok=True)
    n = 1
    while (d / f"signature-{n}").exists():
        n += 1
    target = d / f"signature-{n}"
    target.write_bytes(signature)
    target.chmod(0o644)
    return target


def sign(puller: Any, name: str, key: str, directory: str | None, all_: bool) -> list[Path]:
    """Sign the image ``docker://REF`` (every instance of its list with ``all_``)."""
    from rpod.image import mediatypes as mt
    from rpod.image.reference import parse_qualified

    transport, sep, rest = name.partition("://")
    if not sep:
        raise UsageError(f'parsing image name: invalid image name "{name}", expected colon-separated '
                         "transport:reference")
    if transport != "docker":
        raise UsageError(f'parsing image name "{name}": rpod signs images in a registry (docker://) only')
    ref = parse_qualified(rest)
    top = puller.top_manifest(ref)
    base = (Path(directory) if directory else lookaside_dir(f"{ref.registry}/{ref.repository}")) / ref.repository
    tag = ref.tag or ("" if ref.digest else "latest")  # the reference as Docker writes it
    shown = f"{ref.registry}/{ref.repository}" + (f":{tag}" if tag else "") + (f"@{ref.digest}" if ref.digest else "")
    if not all_:
        return [store_signature(base, top.digest, gpg_sign(payload(shown, top.digest), key))]
    if not mt.is_index(top.media_type):
        raise RpodError(f"{name} is not a multi-architecture image (manifest type {top.media_type})")
    index = json.loads(top.content)
    return [store_signature(base, d["digest"], gpg_sign(payload(shown, d["digest"]), key))
            for d in index.get("manifests") or []]
