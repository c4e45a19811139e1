"""``rpod secret create/ls/inspect/rm/exists`` (file driver, per user, 0600) and ``--secret`` on run."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def test_secret_lifecycle_and_use(env: RpodEnv, tmp_path: Path) -> None:
    src = tmp_path / "pw"
    src.write_text("s3cret-value")
    sid = ok(run_rpod(env, "secret", "create", "--label", "team=db", "dbpw", str(src))).stdout.strip()
    assert len(sid) == 25 and all(c in "0123456789abcdef" for c in sid)
    ok(run_rpod(env, "secret", "create", "token", "-", input="tok-123"))
    r = run_rpod(env, "secret", "create", "dbpw", str(src))
    assert r.returncode == 125 and "dbpw: secret name in use" in r.stderr
    data_file = Path(env["XDG_DATA_HOME"]) / "rpod" / "secrets" / "filedriver" / sid
    assert data_file.read_text() == "s3cret-value"
    assert stat.S_IMODE(data_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_file.parent.stat().st_mode) == 0o700
    lines = ok(run_rpod(env, "secret", "ls")).stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]
    assert sorted(ln.split()[1] for ln in lines[1:]) == ["dbpw", "token"]
    doc = json.loads(ok(run_rpod(env, "secret", "inspect", "dbpw")).stdout)[0]
    assert doc["ID"] == sid and doc["Spec"]["Name"] == "dbpw" and doc["Spec"]["Driver"]["Name"] == "file"
    assert doc["Spec"]["Labels"] == {"team": "db"} and "SecretData" not in doc
    assert json.loads(ok(run_rpod(env, "secret", "inspect", "--showsecret", "dbpw")).stdout)[0][
        "SecretData"] == "s3cret-value"
    # mounted at /run/secrets/NAME (or target), or as an environment variable
    r = ok(run_rpod(env, "run", "--rm", "--secret", "dbpw", "--secret", "token,type=env,target=API_TOKEN",
                    "--secret", "token,target=/etc/tok", "alpine", "sh", "-c",
                    "cat /run/secrets/dbpw; echo; echo $API_TOKEN; cat /etc/tok; echo; "
                    "echo hi > /run/secrets/dbpw 2>/dev/null || echo read-only"))
    assert r.stdout.split() == ["s3cret-value", "tok-123", "tok-123", "read-only"]
    cid = ok(run_rpod(env, "create", "--secret", "token,type=env", "alpine", "true")).stdout.strip()
    assert "tok-123" not in (Path(env["XDG_DATA_HOME"]) / "rpod" / "containers" / cid / "container.json").read_text()
    ok(run_rpod(env, "rm", cid))
    r = run_rpod(env, "run", "--rm", "--secret", "nosuch", "alpine", "true")
    assert r.returncode == 125 and 'no secret with name or id "nosuch": no such secret' in r.stderr
    assert ok(run_rpod(env, "secret", "rm", "dbpw")).stdout.strip() == sid
    assert not data_file.exists()
    r = run_rpod(env, "secret", "rm", "dbpw")
    assert r.returncode == 125 and 'no secret with name or id "dbpw": no such secret' in r.stderr
    assert run_rpod(env, "secret", "exists", "dbpw").returncode == 1
    assert run_rpod(env, "secret", "exists", "token").returncode == 0
    ok(run_rpod(env, "secret", "rm", "-a"))
    assert ok(run_rpod(env, "secret", "ls", "-q")).stdout == ""


def test_secret_mount_owner_and_mode(env: RpodEnv, tmp_path: Path) -> None:
    """``uid=,gid=,mode=`` set the mounted file's owner and mode as the container sees them, so a
    non-root process of that uid can read a 0400 secret."""
    ok(run_rpod(env, "secret", "create", "owned", "-", input="for-uid-1000"))
    try:
        r = ok(run_rpod(env, "run", "--rm", "--user", "1000:1001", "--secret", "owned,uid=1000,gid=1001,mode=0400",
                        "alpine", "sh", "-c", "stat -c '%u %g %a' /run/secrets/owned; cat /run/secrets/owned"))
        assert r.stdout.split() == ["1000", "1001", "400", "for-uid-1000"]
        r = ok(run_rpod(env, "run", "--rm", "--secret", "owned,target=/etc/o,mode=0440,gid=5",
                        "alpine", "stat", "-c", "%u %g %a", "/etc/o"))
        assert r.stdout.split() == ["0", "5", "440"]
        r = ok(run_rpod(env, "run", "--rm", "--secret", "owned", "alpine", "stat", "-c", "%u %g %a",
                        "/run/secrets/owned"))
        assert r.stdout.split() == ["0", "0", "444"]
        r = run_rpod(env, "run", "--rm", "--secret", "owned,type=env,uid=3", "alpine", "true")
        assert r.returncode == 125 and "UID, GID, Mode options cannot be set with secret type env" in r.stderr
    finally:
        ok(run_rpod(env, "secret", "rm", "owned"))
