"""Image reference parsing (distribution/reference grammar, Docker normalisation)."""

from __future__ import annotations

import pytest

from rpod.errors import InvalidReference
from rpod.image.reference import Reference, is_digest, parse_qualified, parse_reference

D = "sha256:" + "a" * 64

VALID = [
    # text, registry, repository, tag, digest
    ("alpine", "", "alpine", None, None),
    ("alpine:3.20", "", "alpine", "3.20", None),
    ("library/alpine", "", "library/alpine", None, None),
    ("foo/bar/baz:v1", "", "foo/bar/baz", "v1", None),
    ("docker.io/alpine", "docker.io", "library/alpine", None, None),
    ("docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", None),
    ("index.docker.io/library/alpine", "docker.io", "library/alpine", None, None),
    ("index.docker.io/alpine:edge", "docker.io", "library/alpine", "edge", None),
    ("docker.io/user/app", "docker.io", "user/app", None, None),
    ("quay.io/podman/stable", "quay.io", "podman/stable", None, None),
    ("quay.io/alpine", "quay.io", "alpine", None, None),
    ("localhost/x", "localhost", "x", None, None),
    ("localhost:5000/x:y", "localhost:5000", "x", "y", None),
    ("127.0.0.1:5000/a/b/c:1.0", "127.0.0.1:5000", "a/b/c", "1.0", None),
    (f"host:5000/path/name:tag@{D}", "host:5000", "path/name", "tag", D),
    (f"alpine@{D}", "", "alpine", None, D),
    (f"registry.example.com/app@{D}", "registry.example.com", "app", None, D),
    ("[::1]:5000/img", "[::1]:5000", "img", None, None),
    ("Registry.Example.COM/app", "Registry.Example.COM", "app", None, None),
    ("Upper/app", "Upper", "app", None, None),  # upper case first component is a domain
    ("a.b-c.d/x__y/z-w.v:T_1-.2", "a.b-c.d", "x__y/z-w.v", "T_1-.2", None),
    ("foo---bar", "", "foo---bar", None, None),
    ("x:" + "t" * 128, "", "x", "t" * 128, None),
    ("localhost:5000", "", "localhost", "5000", None),  # as Docker reads it: name localhost, tag 5000
    ("ex.com/a@sha512:" + "b" * 128, "ex.com", "a", None, "sha512:" + "b" * 128),
]


@pytest.mark.parametrize("text,registry,repository,tag,digest", VALID)
def test_valid(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.is_short == (registry == "")


INVALID = [
    ("", "empty"),
    ("Alpine", "lowercase"),
    ("docker.io/Library/alpine", "lowercase"),
    ("alpine:", "invalid tag"),
    ("alpine:-x", "invalid tag"),
    ("alpine:.x", "invalid tag"),
    ("alpine:" + "t" * 129, "invalid tag"),
    ("alpine@sha256:abc", "invalid digest"),
    ("alpine@sha256:" + "A" * 64, "invalid digest"),
    ("alpine@sha256:" + "a" * 63, "invalid digest"),
    ("alpine@", "invalid digest"),
    ("alpine@md5", "invalid digest"),
    ("a" * 64, "image ID"),
    ("docker://alpine", "transport"),
    (" alpine", "whitespace"),
    ("al pine", "whitespace"),
    ("-alpine", "repository components"),
    ("alpine-", "repository components"),
    ("a//b", "repository components"),
    ("a/b/", "repository components"),
    ("foo_.bar", "repository components"),
    ("foo___bar", "repository components"),
    ("exa_mple.com/x", "registry host"),
    ("host:port/x", "registry host"),
    (":tag", "no repository"),
    ("ex.com/" + "a" * 250, "longer than 255"),
]


@pytest.mark.parametrize("text,fragment", INVALID)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as ei:
        parse_reference(text)
    assert fragment in str(ei.value)
    assert ei.value.exit_code == 125


@pytest.mark.parametrize(
    "text,expected",
    [
        ("docker.io/library/alpine", "docker.io/library/alpine:latest"),
        ("quay.io/a/b:1", "quay.io/a/b:1"),
        (f"quay.io/a/b@{D}", f"quay.io/a/b@{D}"),  # no :latest with a digest
        (f"quay.io/a/b:v2@{D}", f"quay.io/a/b:v2@{D}"),
        ("alpine", "alpine:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
    ],
)
def test_str(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


def test_name_and_manifest_ref() -> None:
    ref = parse_reference("quay.io/a/b:v1")
    assert ref.name == "quay.io/a/b"
    assert ref.manifest_ref == "v1"
    assert parse_reference("quay.io/a/b").manifest_ref == "latest"
    assert parse_reference(f"quay.io/a/b:v1@{D}").manifest_ref == D
    assert parse_reference("alpine").name == "alpine"


def test_qualified() -> None:
    assert parse_reference("alpine:3").qualified("docker.io") == Reference("docker.io", "library/alpine", "3")
    assert parse_reference("alpine").qualified("quay.io") == Reference("quay.io", "alpine")
    assert parse_reference("user/app").qualified("docker.io") == Reference("docker.io", "user/app")
    assert parse_qualified("alpine") == Reference("docker.io", "library/alpine")
    assert parse_qualified("quay.io/x") == Reference("quay.io", "x")


def test_with_tag_and_digest_validate() -> None:
    ref = parse_reference("quay.io/x")
    assert ref.with_tag("v1").tag == "v1"
    assert ref.with_digest(D).digest == D
    with pytest.raises(InvalidReference):
        ref.with_tag("bad tag")
    with pytest.raises(InvalidReference):
        ref.with_digest("sha256:1")


def test_is_digest() -> None:
    assert is_digest(D)
    assert not is_digest("sha256:" + "a" * 10)
    assert not is_digest("latest")
