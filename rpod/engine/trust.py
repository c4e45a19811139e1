"""``image trust set|show``: the signature policy file (see :mod:`rpod.image.trust`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import RpodError


@dataclass
class TrustReport:
    """What ``image trust show`` prints: the file as it is, and its rows."""

    raw: bytes = b""
    policies: list[dict[str, Any]] = field(default_factory=list)


def set_trust(scope: str, trust_type: str, keys: list[str], policy_path: str | None = None) -> None:
    """Set the trust requirements of ``scope`` (``default`` or a registry/repository)."""
    from rpod.image import trust

    trust.check_scope(scope)
    if trust_type not in trust.TYPES:
        raise RpodError(f"invalid choice: {trust_type} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')")
    trust.add_policy_entries(Path(policy_path) if policy_path else trust.default_policy_path(), scope, trust_type, keys)


def show_trust(policy_path: str | None = None, registries_d: str | None = None, raw: bool = False) -> TrustReport:
    """The policy file's bytes and (unless ``raw``) its rows."""
    from rpod.image import trust

    path = Path(policy_path) if policy_path else trust.default_policy_path()
    try:
        report = TrustReport(raw=path.read_bytes())
    except OSError as e:
        raise RpodError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    if not raw:
        report.policies = trust.describe(path, Path(registries_d) if registries_d else trust.registries_d_path())
    return report


def sign(names: list[str], sign_by: str, directory: str | None = None, all_: bool = False,
         cert_dir: str | None = None, authfile: str | None = None, paths: Any = None) -> list[str]:
    """Sign each ``docker://`` image with the GPG key ``sign_by``; the signature files written."""
    import os

    from rpod.engine.types import paths_or_default
    from rpod.image.pull import Puller, PullOptions
    from rpod.image.sign import sign as sign_one

    if not sign_by:
        raise RpodError("please provide an identity")
    if directory and not os.path.exists(directory):
        raise RpodError(f"stat {directory}: no such file or directory")
    puller = Puller(paths_or_default(paths), PullOptions(cert_dir=cert_dir, authfile=authfile))
    return [str(f) for name in names for f in sign_one(puller, name, sign_by, directory, all_)]
