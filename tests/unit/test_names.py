"""Podman-style generated container names."""

from __future__ import annotations

import random

from rpod.container.names import ADJECTIVES, SURNAMES, generate_name, valid_name


def test_generated_names_are_adjective_surname_and_valid() -> None:
    rng = random.Random(1)
    for _ in range(50):
        name = generate_name(rng=rng)
        adj, _, noun = name.partition("_")
        assert adj in ADJECTIVES and noun in SURNAMES
        assert valid_name(name)


def test_taken_names_are_skipped_then_suffixed() -> None:
    seen: list[str] = []

    def taken(n: str) -> bool:
        seen.append(n)
        return len(seen) < 10  # the first nine are taken

    name = generate_name(taken, random.Random(2))
    assert name == seen[-1]
    assert name[-1].isdigit()  # after eight collisions a number is appended


def test_valid_name_rules() -> None:
    assert valid_name("web") and valid_name("a.b-c_d1")
    assert not valid_name("") and not valid_name("-x") and not valid_name("a/b") and not valid_name("a b")
