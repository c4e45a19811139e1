"""``@record``: the subset of ``@dataclass`` rpod's records use, without ``dataclasses``' start-up cost.

``import dataclasses`` pulls ``inspect`` (``ast``, ``dis``, ``tokenize``, ``linecache``) and
``copy``, and every ``@dataclass`` compiles its ``__init__``, ``__repr__`` and ``__eq__`` with
``exec``: together ~35 M instructions plus ~2.4 M per class, which every short command (``ps``,
``inspect``, ``stop``, ``exec``...) paid for the options and records on its path
(docs/performance.md).  A ``@record`` class costs nothing to define: the decorator only builds
a field table from the annotations, and the class's ``__init__`` is compiled only once a command
has made many instances of it.

Semantics are ``dataclass``'s for what rpod uses: fields in annotation order (base records'
first), defaults, ``field(default=..., default_factory=...)``, positional or keyword arguments,
``__eq__`` (same class, equal fields), ``__repr__``, ``frozen=True`` (``FrozenInstanceError`` on
assignment, ``__hash__`` from the fields; not frozen: unhashable), descriptors as defaults, a
mutable default refused.  ``fields``, ``asdict`` and ``replace`` mirror ``dataclasses``'
(``asdict`` recurses into records, real dataclasses, lists, tuples and dicts).  Type checkers
see ``dataclasses.dataclass`` itself.

Stdlib only, and only the interpreter's start-up modules: importing this module imports nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FIELDS = "__record_fields__"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record (``dataclasses.FrozenInstanceError``'s role)."""


class Field:
    """One field: its name, and its default or the factory that makes one."""

    __slots__ = ("name", "default", "default_factory")

    def __init__(self, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def _field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """A field's default (``dataclasses.field``'s ``default``/``default_factory``)."""
    return Field(default, default_factory)


_COMPILE_AFTER = 32  # instances made by the loop before a class gets its compiled __init__


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    """The ``__init__`` every record class starts with.  The first instances are made by a loop over
    the field table (no compile: a short command makes a handful); from the 33rd on, the class gets
    its own compiled ``__init__``, what ``dataclass`` compiles for every class when it is defined
    (~0.1 M instructions per field), which makes an instance ~5-15x faster: ``ps`` of 500
    containers."""
    owner = type(self).__record_class__
    made = owner.__dict__.get("__record_made__", 0)
    if made >= _COMPILE_AFTER:
        owner.__init__ = init = _compile_init(owner)
        init(self, *args, **kwargs)
        return
    owner.__record_made__ = made + 1
    _loop_init(self, owner, args, kwargs)


def _loop_init(self: Any, cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Arguments in field order, then defaults (what the compiled ``__init__`` does)."""
    table = cls.__record_table__
    if args:
        if len(args) > len(table):
            raise TypeError(f"{cls.__qualname__}.__init__() takes {len(table) + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        for (name, _, _), value in zip(table, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {name!r}")
            kwargs[name] = value
    setter = object.__setattr__ if cls.__record_frozen__ else setattr
    for name, default, factory in table:
        if name in kwargs:
            value = kwargs.pop(name)
        elif factory is not MISSING:
            value = factory()
        elif default is not MISSING:
            value = default
        else:
            raise TypeError(f"{cls.__qualname__}.__init__() missing 1 required positional argument: {name!r}")
        setter(self, name, value)
    if kwargs:
        raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if hasattr(cls, "__post_init__"):
        self.__post_init__()


_FACTORY = object()  # "no argument given: call the factory" (dataclass's _HAS_DEFAULT_FACTORY)


def _compile_init(cls: type) -> Callable[..., None]:
    params, body = [], []
    env: dict[str, Any] = {"__rec_factory": _FACTORY, "__rec_set": object.__setattr__}
    frozen = cls.__record_frozen__
    for name, default, factory in cls.__record_table__:
        if factory is not MISSING:
            env[f"__rec_f_{name}"] = factory
            params.append(f"{name}=__rec_factory")
            value = f"__rec_f_{name}() if {name} is __rec_factory else {name}"
        else:
            if default is not MISSING:
                env[f"__rec_d_{name}"] = default
                params.append(f"{name}=__rec_d_{name}")
            else:
                params.append(name)
            value = name
        body.append(f"    __rec_set(self, {name!r}, {value})" if frozen else f"    self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, env)  # noqa: S102  # fixed text made from the class's own field names
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _repr(self: Any) -> str:
    args = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__record_fields__)
    return f"{type(self).__qualname__}({args})"


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in type(self).__record_fields__)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return _values(self) == _values(other)
    return NotImplemented


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    if type(self) is self.__record_class__ or name in type(self).__record_fields__:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self: Any, name: str) -> None:
    if type(self) is self.__record_class__ or name in type(self).__record_fields__:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _process(cls: type, frozen: bool) -> type:
    table: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        table.update(getattr(base, FIELDS, {}))
    for name in cls.__dict__.get("__annotations__", {}):
        value = getattr(cls, name, MISSING)  # a descriptor's default is what it gives the class
        if isinstance(value, Field):
            f = value
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(value)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: "
                             "use default_factory")
        f.name = name
        table.pop(name, None)  # a redefined field keeps dataclass's order: where it was first defined
        table[name] = f
    seen_default = False
    for f in table.values():
        if f.default is MISSING and f.default_factory is MISSING:
            if seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
        else:
            seen_default = True
    setattr(cls, FIELDS, table)
    cls.__record_table__ = tuple((f.name, f.default, f.default_factory) for f in table.values())
    cls.__record_frozen__ = frozen
    cls.__record_class__ = cls
    own = cls.__dict__
    if "__init__" not in own:
        cls.__init__ = _init
    if "__repr__" not in own:
        cls.__repr__ = _repr
    if "__eq__" not in own:
        cls.__eq__ = _eq
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
        if "__hash__" not in own or own["__hash__"] is None:
            cls.__hash__ = _hash
    elif "__hash__" not in own:
        cls.__hash__ = None  # type: ignore[assignment]  # as dataclass(eq=True): unhashable
    cls.__match_args__ = tuple(table)
    return cls


def _record(cls: type | None = None, /, *, frozen: bool = False) -> Any:
    """``@record`` or ``@record(frozen=True)``: make ``cls`` a record (see the module's docstring)."""
    if cls is None:
        return lambda c: _process(c, frozen)
    return _process(cls, frozen)


def is_record(obj: Any) -> bool:
    """True for a record instance (not the class)."""
    return hasattr(type(obj), FIELDS)


def fields(obj: Any) -> tuple[Field, ...]:
    """A record's (or record class's) fields, in order."""
    try:
        return tuple(getattr(obj, FIELDS).values())
    except AttributeError:
        raise TypeError("must be called with a record type or instance") from None


def field_names(cls: type) -> set[str]:
    """The names of a record class's fields (what ``set(cls.__dataclass_fields__)`` gave)."""
    return set(getattr(cls, FIELDS))


def asdict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` for records: a dict of the fields, recursively."""
    if not is_record(obj):
        raise TypeError("asdict() should be called on record instances")
    return _asdict(obj)


def _asdict(obj: Any) -> Any:
    if hasattr(type(obj), FIELDS):
        return {name: _asdict(getattr(obj, name)) for name in type(obj).__record_fields__}
    if hasattr(type(obj), "__dataclass_fields__"):
        import dataclasses

        return {f.name: _asdict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple, as dataclasses does
        return type(obj)(*[_asdict(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return type(obj)(_asdict(v) for v in obj)
    if isinstance(obj, dict):
        return type(obj)((_asdict(k), _asdict(v)) for k, v in obj.items())
    if isinstance(obj, (str, int, float, bool, type(None), bytes)):
        return obj
    import copy

    return copy.deepcopy(obj)


def replace(obj: Any, /, **changes: Any) -> Any:
    """``dataclasses.replace``: a new record of the same class with ``changes`` applied."""
    if not is_record(obj):
        raise TypeError("replace() should be called on record instances")
    for name in type(obj).__record_fields__:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return type(obj)(**changes)


if TYPE_CHECKING:  # type checkers see the real thing
    from dataclasses import dataclass as record
    from dataclasses import field
else:
    record = _record
    field = _field
