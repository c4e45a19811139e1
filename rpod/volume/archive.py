"""``volume export``/``volume import``: a volume's files as a tar stream, and back.

The archive holds the contents of the volume's ``_data`` directory with relative names and
numeric owners (as Podman's, which tars the mount point). Import extracts into the existing
volume, over what is there, refusing members that would land outside it.
"""

from __future__ import annotations

import os
import tarfile
from typing import IO

from rpod.errors import RpodError


def export_tree(data_dir: str, out: IO[bytes]) -> None:
    """Write ``data_dir``'s contents to ``out`` as an uncompressed tar stream."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(data_dir)):
            tar.add(os.path.join(data_dir, entry), arcname=entry, recursive=True)


def import_tree(data_dir: str, src: IO[bytes]) -> None:
    """Extract the tar stream ``src`` (plain or compressed) into ``data_dir``."""
    try:
        with tarfile.open(fileobj=src, mode="r|*") as tar:
            root = os.path.realpath(data_dir)
            for member in tar:
                names = [member.name] + ([member.linkname] if member.islnk() else [])
                for name in names:
                    target = os.path.realpath(os.path.join(root, name.lstrip("/")))
                    if target != root and not target.startswith(root + os.sep):
                        raise RpodError(f"archive member {name!r} points outside the volume")
                member.name = member.name.lstrip("/")
                tar.extract(member, root, numeric_owner=True)
    except tarfile.TarError as e:
        raise RpodError(f"cannot import the archive: {e}") from e
