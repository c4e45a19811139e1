"""The layers, one direction (see rpod/engine/__init__.py): front ends (rpod/cli, rpod/api) →
engine (rpod/engine) → domain packages → rootless/.  Imports inside functions count too."""

from __future__ import annotations

from tests.support.imports import imports, ours

FRONT_ENDS = ("rpod.cli", "rpod.api", "rpod.__main__")  # __main__: ``python -m rpod`` runs the CLI
# what a front end may import from this repository: the engine, the errors, the shared output
# formatting, other front-end modules, and the package itself (its __version__)
FRONT_END_ALLOWED = ("rpod.engine", "rpod.errors", "rpod.format", *FRONT_ENDS)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_front_ends_import_only_the_engine_errors_and_format() -> None:
    bad = [f"{src}:{line} imports {dst}" for src, dst, line in imports()
           if _under(src, FRONT_ENDS) and ours(dst) and dst != "rpod" and not _under(dst, FRONT_END_ALLOWED)]
    assert not bad, "front ends must go through rpod.engine:\n" + "\n".join(bad)


def test_engine_and_below_never_import_a_front_end() -> None:
    bad = [f"{src}:{line} imports {dst}" for src, dst, line in imports()
           if not _under(src, FRONT_ENDS) and _under(dst, FRONT_ENDS)]
    assert not bad, "only front ends import front ends:\n" + "\n".join(bad)


def test_domain_packages_never_import_the_engine() -> None:
    bad = [f"{src}:{line} imports {dst}" for src, dst, line in imports()
           if not _under(src, (*FRONT_ENDS, "rpod.engine")) and _under(dst, ("rpod.engine",))]
    assert not bad, "the engine is above the domain packages:\n" + "\n".join(bad)


def test_rootless_never_imports_rpod() -> None:
    bad = [f"{src}:{line} imports {dst}" for src, dst, line in imports()
           if _under(src, ("rootless",)) and _under(dst, ("rpod",))]
    assert not bad, "rootless/ stands alone:\n" + "\n".join(bad)


def test_the_walker_sees_imports_inside_functions() -> None:
    """A test that cannot fail is no test: the walker must see a function-level import we know of."""
    found = {(src, dst) for src, dst, _ in imports()}
    assert ("rpod.cli.container", "rpod.engine.containers") in found  # ``from rpod.engine import containers``
    assert ("rpod.engine.containers", "rpod.container.lifecycle") in found  # inside functions
