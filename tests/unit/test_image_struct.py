"""Image inspect templates: Podman's ImageData answers both {{.ID}} and {{.Id}}."""

from __future__ import annotations

from rpod.format import render_list
from rpod.image.reports import image_struct


def test_image_id_both_spellings() -> None:
    doc = {"Id": "ab" * 32, "RepoTags": ["r/a:1"]}
    out = render_list("{{.ID}}|{{.Id}}", [image_struct(doc)], name="inspect")
    assert out.strip() == f"{'ab' * 32}|{'ab' * 32}"
