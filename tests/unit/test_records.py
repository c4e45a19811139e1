"""``rpod.records``: ``@record`` behaves as ``@dataclass`` for everything rpod's records use."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import pytest

from rpod.records import FrozenInstanceError, asdict, field, field_names, fields, is_record, record, replace

ROOT = str(Path(__file__).resolve().parents[2])


class _Desc:
    """A data descriptor as a default (``ContainerRecord.options``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: object, objtype: type | None = None) -> object:
        return None if obj is None else obj.__dict__.get(self.slot, "unset")

    def __set__(self, obj: object, value: object) -> None:
        obj.__dict__[self.slot] = f"set:{value}"


def _pair(frozen: bool = False) -> tuple[type, type]:
    """The same class made by ``dataclass`` and by ``record``."""
    made = []
    for deco, fld in ((dataclasses.dataclass(frozen=frozen), dataclasses.field), (record(frozen=frozen), field)):
        @deco
        class Inner:
            """a record"""

            name: str
            count: int = 0
            tags: list[str] = fld(default_factory=list)
            extra: dict[str, int] | None = None
            desc: object = _Desc()

        made.append(Inner)
    return made[0], made[1]


def test_construction_defaults_eq_repr_as_dataclass() -> None:
    dc, rc = _pair()
    cases = (((), {"name": "a"}), (("a", 3), {}), (("a",), {"tags": ["x"], "extra": {"k": 1}}),
             (("a", 1, ["t"], None, "d"), {}))
    for args, kwargs in cases * 12:  # the first 32 through the loop, then the compiled __init__
        d, r = dc(*args, **kwargs), rc(*args, **kwargs)
        assert vars(d) == vars(r)
        assert repr(d).split("(", 1)[1] == repr(r).split("(", 1)[1]
        assert r == rc(*args, **kwargs) and r != rc("other")
        assert dataclasses.asdict(d) == asdict(r)
    assert rc("a").tags is not rc("a").tags  # a fresh default each time
    assert [f.name for f in fields(rc)] == [f.name for f in dataclasses.fields(dc)]
    assert field_names(rc) == set(dc.__dataclass_fields__)
    assert rc.count == dc.count == 0 and not hasattr(rc, "tags") and not hasattr(dc, "tags")
    assert rc.__match_args__ == dc.__match_args__
    assert rc.__hash__ is None and dc.__hash__ is None
    assert (rc("a") == 1) is False


@pytest.mark.parametrize("args, kwargs", [((), {}), (("a", 1, [], None, 1, 2), {}), (("a",), {"name": "b"}),
                                          ((), {"name": "a", "nope": 1})])
def test_bad_arguments_raise_type_error(args: tuple, kwargs: dict) -> None:
    dc, rc = _pair()
    with pytest.raises(TypeError):
        dc(*args, **kwargs)
    with pytest.raises(TypeError):
        rc(*args, **kwargs)  # the loop
    for _ in range(40):
        rc("x")
    assert rc.__init__.__qualname__.endswith("Inner.__init__")  # compiled by now
    with pytest.raises(TypeError):
        rc(*args, **kwargs)


def test_frozen_hash_and_cached_property() -> None:
    dc, rc = _pair(frozen=True)
    r = rc("a", 2, ())
    with pytest.raises(FrozenInstanceError):
        r.count = 3
    with pytest.raises(AttributeError):
        del r.name
    assert hash(r) == hash(rc("a", 2, ())) and {r: 1}[rc("a", 2, ())] == 1
    assert hash(dc("a", 2, ())) == hash(r)
    assert vars(dc("a", 2, ())) == vars(r)

    @record(frozen=True)
    class WithCache:
        root: str

        @cached_property
        def sub(self) -> str:
            return self.root + "/sub"

    w = WithCache("/x")
    assert w.sub == "/x/sub" and w.sub is w.sub
    for _ in range(40):  # the compiled __init__ of a frozen record
        assert rc("a", 2, ()) == r and WithCache("/y").sub == "/y/sub"
    with pytest.raises(FrozenInstanceError):
        rc("b").name = "c"


def test_replace_asdict_nesting_and_inheritance() -> None:
    @record
    class Inner:
        v: int = 1

    @dataclasses.dataclass
    class Real:
        w: int = 2

    @record
    class Outer:
        inner: Inner = field(default_factory=Inner)
        items: list[Inner] = field(default_factory=list)
        real: Real = field(default_factory=Real)
        pair: tuple[int, int] = (1, 2)

    o = Outer(items=[Inner(3)])
    assert asdict(o) == {"inner": {"v": 1}, "items": [{"v": 3}], "real": {"w": 2}, "pair": (1, 2)}
    o2 = replace(o, pair=(3, 4))
    assert o2.pair == (3, 4) and o2.items is o.items and o.pair == (1, 2)
    assert is_record(o) and not is_record(Outer) and not is_record(Real())

    @record
    class Child(Inner):
        u: int = 5

    assert [f.name for f in fields(Child)] == ["v", "u"] and Child(7).v == 7
    posts = []

    @record
    class WithPost:
        v: int = 0

        def __post_init__(self) -> None:
            posts.append(self.v)

    for i in range(40):
        WithPost(i)
    assert posts == list(range(40))
    with pytest.raises(ValueError, match="mutable default"):
        @record
        class Bad:
            items: list[int] = []  # noqa: RUF012


def test_importing_records_imports_nothing() -> None:
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); before = set(sys.modules); import rpod.records; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) <= {"rpod", "rpod.records", "__future__"}


def test_go_templates_see_records_as_structs() -> None:
    """``{{.}}``, ``%+v`` and ``{{json .}}`` print a record as they print the same dataclass."""
    from rpod.format import render_one
    from rpod.format.gofmt import format_v, to_jsonable

    dc, rc = _pair()
    d, r = dc("a", 1, ["x"]), rc("a", 1, ["x"])
    assert format_v(r) == format_v(d) == "{a 1 [x] <nil> set:None}"
    assert format_v(r, plus=True) == format_v(d, plus=True)
    assert to_jsonable(r) == to_jsonable(d)
    for tpl in ("{{.}}", "{{.Name}}", "{{json .}}"):
        assert render_one(tpl, {"Name": r}, name="t") == render_one(tpl, {"Name": d}, name="t")
