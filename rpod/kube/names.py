"""Names a Kubernetes cluster accepts: object names are RFC 1123 subdomains, container and
volume names RFC 1123 labels (lower case).  Podman's ``generate kube`` keeps the case of the
names it was given; rpod does the same (its output matches Podman's) and says which names a
cluster would refuse."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Deployment":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    return spec if isinstance(spec, dict) else {}


def cluster_name_problems(docs: Iterable[Any]) -> list[str]:
    """The names in ``docs`` (parsed YAML documents) a cluster would refuse, each once."""
    bad: list[str] = []

    def check(name: Any, pattern: re.Pattern[str], limit: int) -> None:
        if isinstance(name, str) and not (pattern.fullmatch(name) and len(name) <= limit) and name not in bad:
            bad.append(name)

    for doc in docs:
        if not isinstance(doc, dict):
            continue
        check((doc.get("metadata") or {}).get("name"), _SUBDOMAIN, 253)
        spec = _pod_spec(doc)
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                check((c or {}).get("name"), _LABEL, 63)
        for v in spec.get("volumes") or []:
            check((v or {}).get("name"), _LABEL, 63)
    return bad
