"""auth.json reading order, key matching, and login/logout writes."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from rpod.errors import ConfigError, UsageError
from rpod.image.auth import (
    auth_file_paths,
    credentials_for,
    normalize_key,
    parse_creds,
    primary_auth_file,
    remove_credentials,
    store_credentials,
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An isolated HOME, XDG_RUNTIME_DIR and XDG_CONFIG_HOME."""
    home = tmp_path / "home"
    run = tmp_path / "run"
    cfg = tmp_path / "config"
    for d in (home, run, cfg):
        d.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    return {
        "home": home,
        "run": run,
        "config": cfg,
        "primary": run / "containers" / "auth.json",
        "xdg": cfg / "containers" / "auth.json",
        "docker": home / ".docker" / "config.json",
        "dockercfg": home / ".dockercfg",
    }


def b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def put(path: Path, auths: dict[str, dict[str, str]], legacy: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(auths if legacy else {"auths": auths}))


def test_read_order(env: dict[str, Path]) -> None:
    put(env["dockercfg"], {"https://r.io/v1/": {"auth": b64("legacy", "p")}}, legacy=True)
    assert credentials_for("r.io").username == "legacy"
    put(env["docker"], {"r.io": {"auth": b64("docker", "p")}})
    assert credentials_for("r.io").username == "docker"
    put(env["xdg"], {"r.io": {"auth": b64("xdg", "p")}})
    assert credentials_for("r.io").username == "xdg"
    put(env["primary"], {"r.io": {"auth": b64("primary", "secret:with:colons")}})
    creds = credentials_for("r.io")
    assert (creds.username, creds.password, creds.source) == ("primary", "secret:with:colons", env["primary"])
    assert credentials_for("other.io") is None


def test_file_order_beats_key_specificity(env: dict[str, Path]) -> None:
    put(env["primary"], {"r.io": {"auth": b64("host-only", "p")}})
    put(env["docker"], {"r.io/ns/app": {"auth": b64("specific", "p")}})
    assert credentials_for("r.io", "ns/app").username == "host-only"


def test_namespace_matching_most_specific_first(env: dict[str, Path]) -> None:
    put(
        env["primary"],
        {
            "r.io": {"auth": b64("host", "p")},
            "r.io/team": {"auth": b64("team", "p")},
            "r.io/team/app": {"auth": b64("app", "p")},
        },
    )
    assert credentials_for("r.io", "team/app").username == "app"
    assert credentials_for("r.io", "team/other").username == "team"
    assert credentials_for("r.io", "teamster/app").username == "host"
    assert credentials_for("r.io", None).username == "host"


def test_docker_hub_spellings(env: dict[str, Path]) -> None:
    put(env["docker"], {"https://index.docker.io/v1/": {"auth": b64("hub", "p")}})
    assert credentials_for("docker.io", "library/alpine").username == "hub"
    assert credentials_for("index.docker.io").username == "hub"
    assert normalize_key("registry-1.docker.io") == "docker.io"
    assert normalize_key("http://r.io:5000/v2/") == "r.io:5000"
    assert normalize_key("r.io/ns/") == "r.io/ns"


def test_identity_token(env: dict[str, Path]) -> None:
    put(env["primary"], {"r.io": {"identitytoken": "refresh-me"}})
    creds = credentials_for("r.io")
    assert creds.identity_token == "refresh-me"
    assert creds.username == ""
    assert "refresh-me" not in repr(creds)


def test_explicit_authfile_is_the_only_file(
    env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(env["primary"], {"r.io": {"auth": b64("primary", "p")}})
    mine = tmp_path / "mine.json"
    put(mine, {"s.io": {"auth": b64("mine", "p")}})
    assert credentials_for("r.io", authfile=mine) is None
    assert credentials_for("s.io", authfile=mine).username == "mine"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(mine))
    assert auth_file_paths() == [(mine, False)]
    assert credentials_for("s.io").username == "mine"
    assert credentials_for("r.io") is None


def test_docker_config_env(env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    put(tmp_path / "dc" / "config.json", {"r.io": {"auth": b64("dc", "p")}})
    assert credentials_for("r.io").username == "dc"


def test_malformed_files(env: dict[str, Path]) -> None:
    env["primary"].parent.mkdir(parents=True)
    env["primary"].write_text("{not json")
    with pytest.raises(ConfigError, match=str(env["primary"])):
        credentials_for("r.io")
    put(env["primary"], {"r.io": {"auth": base64.b64encode(b"nocolon").decode()}})
    with pytest.raises(ConfigError, match="user:password"):
        credentials_for("r.io")


def test_store_writes_primary_0600_and_keeps_others(env: dict[str, Path]) -> None:
    put(env["primary"], {"keep.io": {"auth": b64("k", "p")}, "https://r.io": {"auth": b64("old", "p")}})
    env["primary"].chmod(0o644)
    path = store_credentials("r.io", "new", "pw")
    assert path == env["primary"]
    data = json.loads(path.read_text())
    assert set(data["auths"]) == {"keep.io", "r.io"}  # the old spelling of r.io replaced
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials_for("r.io").password == "pw"
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"]  # no temp file left


def test_store_namespace_key(env: dict[str, Path]) -> None:
    store_credentials("r.io/team", "t", "p")
    assert credentials_for("r.io", "team/app").username == "t"
    assert credentials_for("r.io", "other/app") is None


def test_store_falls_back_without_runtime_dir(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert primary_auth_file() == env["xdg"]
    path = store_credentials("r.io", "u", "p")
    assert path == env["xdg"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials_for("r.io").username == "u"
    # a runtime dir that is not a directory is unusable too
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(env["xdg"]))
    assert primary_auth_file() == env["xdg"]


def test_store_to_explicit_authfile(env: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "sub" / "auth.json"
    assert store_credentials("r.io", "u", "p", authfile=target) == target
    assert credentials_for("r.io", authfile=target).username == "u"
    assert not env["primary"].exists()


def test_remove(env: dict[str, Path]) -> None:
    store_credentials("r.io", "u", "p")
    store_credentials("s.io", "u", "p")
    assert remove_credentials("r.io") is True
    assert remove_credentials("r.io") is False
    assert credentials_for("r.io") is None
    assert credentials_for("s.io") is not None
    assert remove_credentials(None, all=True) is True
    assert json.loads(env["primary"].read_text()) == {"auths": {}}
    assert stat.S_IMODE(env["primary"].stat().st_mode) == 0o600
    with pytest.raises(UsageError):
        remove_credentials(None)


def test_remove_keeps_unknown_top_level_keys(env: dict[str, Path]) -> None:
    env["primary"].parent.mkdir(parents=True)
    env["primary"].write_text(
        json.dumps({"auths": {"r.io": {"auth": b64("u", "p")}}, "credHelpers": {"x.io": "pass"}})
    )
    remove_credentials("r.io")
    assert json.loads(env["primary"].read_text()) == {"auths": {}, "credHelpers": {"x.io": "pass"}}


@pytest.mark.parametrize(
    "value,user,password",
    [("u:p", "u", "p"), ("u:p:q", "u", "p:q"), ("u", "u", ""), ("u:", "u", "")],
)
def test_parse_creds(value: str, user: str, password: str) -> None:
    creds = parse_creds(value)
    assert (creds.username, creds.password) == (user, password)


def test_parse_creds_rejects_empty_user() -> None:
    with pytest.raises(UsageError):
        parse_creds(":p")


def helper_script(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)


def test_cred_helpers(env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    helper_script(
        bin_dir,
        "fake",
        'read host\ncase "$host" in\n'
        '  r.io) echo \'{"ServerURL":"r.io","Username":"helped","Secret":"s3"}\' ;;\n'
        '  t.io) echo \'{"Username":"<token>","Secret":"refresh"}\' ;;\n'
        "  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    env["docker"].parent.mkdir(parents=True)
    env["docker"].write_text(
        json.dumps(
            {
                "auths": {"r.io": {"auth": b64("file", "p")}, "n.io": {"auth": b64("file", "p")}},
                "credHelpers": {"r.io": "fake", "t.io": "fake", "n.io": "fake", "x.io": "missing"},
            }
        )
    )
    creds = credentials_for("r.io", "ns/app")
    assert (creds.username, creds.password, creds.source) == ("helped", "s3", env["docker"])
    assert credentials_for("t.io").identity_token == "refresh"
    assert credentials_for("n.io").username == "file"  # helper has none: the file's entry
    with pytest.raises(ConfigError, match="docker-credential-missing"):
        credentials_for("x.io")
