"""The build cache: which image a step made from a given parent, instruction and inputs.

``build-cache.json`` in the store maps a step key (sha256 of the parent image id, the
instruction as written, the stage's ARG values and the content digest of what COPY/ADD read)
to the image that step committed.  An entry whose image was removed is a miss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rpod.paths import Paths
from rpod.storefile import atomic_write_json, locked, read_json


def step_key(parent: str, instruction: str, args: dict[str, str], extra: Any = None) -> str:
    doc = json.dumps([parent, instruction, sorted(args.items()), extra], sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


class BuildCache:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.file = paths.root / "build-cache.json"
        self.lock_file = paths.root / "build-cache.lock"

    def get(self, key: str) -> str | None:
        data = read_json(self.file, {}) or {}
        return (data.get("steps") or {}).get(key)

    def put(self, key: str, image_id: str) -> None:
        self.paths.ensure()
        with locked(self.lock_file):
            data = read_json(self.file, {}) or {}
            steps = data.setdefault("steps", {})
            steps[key] = image_id
            atomic_write_json(self.file, data)

    def mark_intermediate(self, image_id: str) -> None:
        """A step's image that is no cache entry (``--layers=false``): hidden by ``images`` all the same."""
        self.paths.ensure()
        with locked(self.lock_file):
            data = read_json(self.file, {}) or {}
            others = data.setdefault("intermediate", [])
            if image_id not in others:
                others.append(image_id)
            atomic_write_json(self.file, data)

    def put_result(self, image_id: str) -> None:
        """The image a build produced (listed by ``images`` even without a name)."""
        self.paths.ensure()
        with locked(self.lock_file):
            data = read_json(self.file, {}) or {}
            results = data.setdefault("results", [])
            if image_id not in results:
                results.append(image_id)
            atomic_write_json(self.file, data)

    def intermediate_ids(self) -> set[str]:
        """Images committed for a build step and not the result of a build (``images`` hides them
        without ``-a``, as Podman hides intermediate images)."""
        data = read_json(self.file, {}) or {}
        steps = set((data.get("steps") or {}).values()) | set(data.get("intermediate") or [])
        return steps - set(data.get("results") or [])
