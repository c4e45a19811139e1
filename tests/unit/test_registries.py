"""registries.conf loading and resolution, with the loader pointed at temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpod.errors import BlockedRegistry, ConfigError
from rpod.image.reference import Reference, parse_reference
from rpod.image.registries_conf import RegistriesConfig, load_registries_config


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """(config_home, system_dir), both empty."""
    home = tmp_path / "home"
    system = tmp_path / "etc"
    home.mkdir()
    system.mkdir()
    return home, system


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(dirs: tuple[Path, Path]) -> RegistriesConfig:
    return load_registries_config(config_home=dirs[0], system_dir=dirs[1])


def names(refs: list[Reference]) -> list[str]:
    return [str(r) for r in refs]


def test_no_config_defaults_to_docker_hub(dirs: tuple[Path, Path]) -> None:
    cfg = load(dirs)
    assert cfg.files == []
    assert names(cfg.resolve_short_name("alpine")) == ["docker.io/library/alpine:latest"]
    assert names(cfg.resolve_short_name("user/app:1")) == ["docker.io/user/app:1"]


def test_search_order_and_library_prefix(dirs: tuple[Path, Path]) -> None:
    write(
        dirs[1] / "registries.conf",
        'unqualified-search-registries = ["quay.io", "docker.io", "localhost:5000"]\n',
    )
    cfg = load(dirs)
    assert names(cfg.resolve_short_name("alpine:3")) == [
        "quay.io/alpine:3",
        "docker.io/library/alpine:3",
        "localhost:5000/alpine:3",
    ]
    d = "sha256:" + "c" * 64
    assert names(cfg.resolve_short_name(f"ns/app@{d}")) == [
        f"quay.io/ns/app@{d}",
        f"docker.io/ns/app@{d}",
        f"localhost:5000/ns/app@{d}",
    ]


def test_qualified_name_passes_through(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", 'unqualified-search-registries = ["quay.io"]\n')
    assert names(load(dirs).resolve_short_name("ghcr.io/x/y:z")) == ["ghcr.io/x/y:z"]


def test_empty_search_list_means_default(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", "unqualified-search-registries = []\n")
    assert names(load(dirs).resolve_short_name("busybox")) == ["docker.io/library/busybox:latest"]


def test_alias_wins_and_keeps_tag(dirs: tuple[Path, Path]) -> None:
    write(
        dirs[1] / "registries.conf",
        'unqualified-search-registries = ["docker.io"]\n[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n',
    )
    cfg = load(dirs)
    assert names(cfg.resolve_short_name("fedora:40")) == ["registry.fedoraproject.org/fedora:40"]
    assert names(cfg.resolve_short_name("fedora")) == ["registry.fedoraproject.org/fedora:latest"]
    assert cfg.alias_origins["fedora"].endswith("registries.conf")


def test_drop_ins_override_in_lexical_order(dirs: tuple[Path, Path]) -> None:
    home, system = dirs
    write(
        system / "registries.conf",
        'unqualified-search-registries = ["a.io"]\nshort-name-mode = "enforcing"\n',
    )
    write(system / "registries.conf.d" / "10-b.conf", 'unqualified-search-registries = ["b.io"]\n')
    write(system / "registries.conf.d" / "20-c.conf", 'short-name-mode = "permissive"\n')
    write(
        system / "registries.conf.d" / "000-shortnames.conf",
        '[aliases]\n"alpine" = "docker.io/library/alpine"\n',
    )
    write(system / "registries.conf.d" / "ignored.txt", "not toml [[[")
    write(
        home / "containers" / "registries.conf.d" / "50-user.conf",
        '[aliases]\n"alpine" = "quay.io/mine/alpine"\n',
    )
    cfg = load(dirs)
    assert [p.name for p in cfg.files] == [
        "registries.conf",
        "000-shortnames.conf",
        "10-b.conf",
        "20-c.conf",
        "50-user.conf",
    ]
    assert cfg.search_registries == ["b.io"]
    assert cfg.short_name_mode == "permissive"
    assert names(cfg.resolve_short_name("alpine")) == ["quay.io/mine/alpine:latest"]


def test_empty_alias_removes_it(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", '[aliases]\n"x" = "quay.io/x"\n')
    write(dirs[1] / "registries.conf.d" / "1.conf", '[aliases]\n"x" = ""\n')
    cfg = load(dirs)
    assert "x" not in cfg.aliases
    assert names(cfg.resolve_short_name("x")) == ["docker.io/library/x:latest"]


def test_user_file_replaces_system_file(dirs: tuple[Path, Path]) -> None:
    home, system = dirs
    write(
        system / "registries.conf",
        'unqualified-search-registries = ["system.io"]\n[aliases]\n"a" = "system.io/a"\n',
    )
    write(system / "registries.conf.d" / "x.conf", '[aliases]\n"b" = "system.io/b"\n')
    write(home / "containers" / "registries.conf", 'unqualified-search-registries = ["user.io"]\n')
    write(home / "containers" / "registries.conf.d" / "u.conf", '[aliases]\n"c" = "user.io/c"\n')
    cfg = load(dirs)
    assert [p.parent.name for p in cfg.files] == ["containers", "registries.conf.d"]
    assert cfg.search_registries == ["user.io"]
    assert cfg.aliases == {"c": "user.io/c"}  # neither the system file nor system drop-ins


def test_short_name_mode_values(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", 'short-name-mode = "disabled"\n')
    assert load(dirs).short_name_mode == "disabled"
    write(dirs[1] / "registries.conf", 'short-name-mode = "prompt-always"\n')
    with pytest.raises(ConfigError, match="short-name-mode"):
        load(dirs)


def test_enforcing_mode_still_returns_all_candidates_in_order(dirs: tuple[Path, Path]) -> None:
    # rpod never prompts: several search registries are tried in order (like permissive without a TTY)
    write(
        dirs[1] / "registries.conf",
        'short-name-mode = "enforcing"\nunqualified-search-registries = ["a.io", "b.io"]\n',
    )
    assert names(load(dirs).resolve_short_name("x")) == ["a.io/x:latest", "b.io/x:latest"]


REGS = """
[[registry]]
prefix = "example.com"
location = "example.com"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "mirror.internal:5000/team-copy"

[[registry.mirror]]
location = "m1.internal/team"
insecure = true

[[registry.mirror]]
location = "m2.internal/team"
pull-from-mirror = "digest-only"

[[registry.mirror]]
location = "m3.internal/team"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "*.corp.example"
blocked = true

[[registry]]
location = "plain.io"

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "hub-mirror.local"
"""


def test_lookup_longest_prefix_and_rewrite(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", REGS)
    cfg = load(dirs)
    e = cfg.lookup(parse_reference("example.com/other/img:1"))
    assert (e.prefix, e.location, e.insecure, e.blocked) == (
        "example.com",
        "example.com/other/img",
        True,
        False,
    )
    e = cfg.lookup(parse_reference("example.com/team/app:2"))
    assert e.prefix == "example.com/team"
    assert e.location == "mirror.internal:5000/team-copy/app"
    assert not e.insecure  # the longer prefix's settings, not the shorter one's
    assert [m.location for m in e.mirrors] == [
        "m1.internal/team/app",
        "m2.internal/team/app",
        "m3.internal/team/app",
    ]
    # prefix boundaries: example.com/teamster is not under example.com/team
    assert cfg.lookup(parse_reference("example.com/teamster/x")).prefix == "example.com"
    # unconfigured registry: defaults
    e = cfg.lookup(parse_reference("ghcr.io/a/b"))
    assert (e.location, e.insecure, e.blocked, e.mirrors) == ("ghcr.io/a/b", False, False, [])
    # a registry with only a location uses it as its prefix
    assert cfg.lookup(parse_reference("plain.io/x")).prefix == "plain.io"


def test_wildcard_prefix(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", REGS)
    cfg = load(dirs)
    assert cfg.lookup(parse_reference("a.corp.example/x")).blocked
    assert cfg.lookup(parse_reference("b.a.corp.example:5000/x/y")).blocked
    assert not cfg.lookup(parse_reference("corp.example/x")).blocked
    assert not cfg.lookup(parse_reference("acorp.example/x")).blocked
    with pytest.raises(BlockedRegistry, match=r"a\.corp\.example"):
        cfg.pull_sources(parse_reference("a.corp.example/x:1"))


def test_pull_sources_mirrors_first_filtered(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", REGS)
    cfg = load(dirs)
    by_tag = cfg.pull_sources(parse_reference("example.com/team/app:2"))
    assert [(str(s.reference), s.insecure, s.mirror) for s in by_tag] == [
        ("m1.internal/team/app:2", True, True),
        ("m3.internal/team/app:2", False, True),
        ("mirror.internal:5000/team-copy/app:2", False, False),
    ]
    d = "sha256:" + "e" * 64
    by_digest = cfg.pull_sources(parse_reference(f"example.com/team/app@{d}"))
    assert [str(s.reference) for s in by_digest] == [
        f"m1.internal/team/app@{d}",
        f"m2.internal/team/app@{d}",
        f"mirror.internal:5000/team-copy/app@{d}",
    ]
    hub = cfg.pull_sources(parse_reference("docker.io/library/alpine:3"))
    assert [str(s.reference) for s in hub] == [
        "hub-mirror.local/library/alpine:3",
        "docker.io/library/alpine:3",
    ]


def test_mirror_by_digest_only(dirs: tuple[Path, Path]) -> None:
    write(
        dirs[1] / "registries.conf",
        '[[registry]]\nprefix = "r.io"\nlocation = "r.io"\nmirror-by-digest-only = true\n'
        '[[registry.mirror]]\nlocation = "m.io"\n',
    )
    cfg = load(dirs)
    assert [str(s.reference) for s in cfg.pull_sources(parse_reference("r.io/x:1"))] == ["r.io/x:1"]
    d = "sha256:" + "1" * 64
    assert [str(s.reference) for s in cfg.pull_sources(parse_reference(f"r.io/x@{d}"))] == [
        f"m.io/x@{d}",
        f"r.io/x@{d}",
    ]


def test_is_insecure(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", REGS)
    cfg = load(dirs)
    assert cfg.is_insecure("example.com")
    assert not cfg.is_insecure("ghcr.io")


def test_drop_in_replaces_registry_with_same_prefix(dirs: tuple[Path, Path]) -> None:
    write(dirs[1] / "registries.conf", '[[registry]]\nprefix = "r.io"\ninsecure = true\n')
    write(dirs[1] / "registries.conf.d" / "z.conf", '[[registry]]\nprefix = "r.io"\nblocked = true\n')
    e = load(dirs).lookup(parse_reference("r.io/x"))
    assert e.blocked and not e.insecure
    assert e.origin.endswith("z.conf")


def test_v1_format(dirs: tuple[Path, Path]) -> None:
    write(
        dirs[1] / "registries.conf",
        '[registries.search]\nregistries = ["quay.io"]\n'
        '[registries.insecure]\nregistries = ["localhost:5000"]\n'
        '[registries.block]\nregistries = ["bad.io"]\n',
    )
    cfg = load(dirs)
    assert cfg.search_registries == ["quay.io"]
    assert cfg.is_insecure("localhost:5000")
    assert cfg.lookup(parse_reference("bad.io/x")).blocked


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("unqualified-search-registries = [", "invalid TOML"),
        ('unqualified-search-registries = "quay.io"', "array of strings"),
        ('unqualified-search-registries = ["http://quay.io"]', "not a registry"),
        ('[[registry]]\nprefix = "*.x.io"\nlocation = "y.io"\n', "cannot set a location"),
        ('[[registry]]\nprefix = "*.x.io/path"\n', "wildcard prefix"),
        ('[[registry]]\nprefix = "x*.io"\n', "'*' is only allowed"),
        ('[[registry]]\nlocation = "https://x.io"\n', "scheme"),
        ("[[registry]]\ninsecure = true\n", "needs a prefix or a location"),
        ('[[registry]]\nprefix = "x.io"\ninsecure = "yes"\n', "true or false"),
        ('[[registry]]\nprefix = "x.io"\nbogus = 1\n', "unknown key"),
        ('[[registry]]\nprefix = "x.io"\n[[registry.mirror]]\ninsecure = true\n', "needs a location"),
        (
            '[[registry]]\nprefix = "x.io"\n[[registry.mirror]]\nlocation = "m.io"\npull-from-mirror = "x"\n',
            "pull-from-mirror",
        ),
        ('[aliases]\n"a" = "short"\n', "fully qualified"),
        ('[aliases]\n"quay.io/a" = "quay.io/a"\n', "short name"),
        ('[aliases]\n"a" = "quay.io/a:tag"\n', "without tag"),
        ('[aliases]\n"a" = 3\n', "must be a string"),
    ],
)
def test_malformed_files_name_the_file(dirs: tuple[Path, Path], text: str, fragment: str) -> None:
    path = write(dirs[1] / "registries.conf", text)
    with pytest.raises(ConfigError) as ei:
        load(dirs)
    assert str(path) in str(ei.value)
    assert fragment in str(ei.value)


def test_debian_system_config_parses() -> None:
    """Whatever /etc/containers ships on this machine must load (it is read by default)."""
    cfg = load_registries_config(config_home=Path("/nonexistent-rpod-home"))
    assert isinstance(cfg.resolve_short_name("alpine")[0], Reference)
