"""rootless.minijson is json, byte for byte, without importing json (the monitor's memory)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from rootless import minijson

SAMPLES = [
    {}, [], 0, -1, 2**70, 1.5, -0.0, 1e300, True, False, None, "", "é✓\n\"\\\x00\u2028",
    {"pid": 1234, "exit_code": 0, "signal": None, "at": "2026-12-03T13:00:00.123456789Z"},
    {"a": [1, {"b": [None, True, "x"]}], "ünï": {"nested": {"deep": [1.25, -3]}}, "3": 3},
    {"env": ["A=1", "B=two words"], "argv": ["sh", "-c", "echo 'hi'"], "fds": {"stdin_fd": -1}},
]


@pytest.mark.parametrize("obj", SAMPLES, ids=range(len(SAMPLES)))
def test_dumps_and_loads_are_jsons(obj: object) -> None:
    assert minijson.dumps(obj) == json.dumps(obj)
    assert minijson.dumps(obj, separators=(",", ":")) == json.dumps(obj, separators=(",", ":"))
    text = json.dumps(obj)
    for s in (text, f"  {text}\n", text.encode(), f"\n{text} \r\n".encode()):
        assert minijson.loads(s) == json.loads(s)


def test_special_floats_and_errors_are_jsons() -> None:
    assert math.isnan(minijson.loads("NaN")) and minijson.loads("[Infinity, -Infinity]") == [math.inf, -math.inf]
    assert minijson.dumps([math.inf, math.nan]) == json.dumps([math.inf, math.nan])
    for bad in ("", "   ", "{", '{"a": 1} x', "[1,]", b"\xff", "{'a': 1}"):
        with pytest.raises(ValueError) as mine:
            minijson.loads(bad)
        with pytest.raises(ValueError) as theirs:
            json.loads(bad)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(TypeError, match="not JSON serializable"):
        minijson.dumps({"a": object()})


def test_no_json_nor_re_imported() -> None:
    root = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {root!r}); from rootless import minijson; "
            "minijson.loads(minijson.dumps({'a': [1, 2.5, None]})); "
            "print(sorted(m for m in ('json', 're', 'typing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
