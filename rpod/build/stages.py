"""The stage graph of a Containerfile: global ARGs, ``FROM ... AS name``, references between
stages (``FROM stage``, ``COPY --from``, ``RUN --mount=from=``), ``--target`` and cycles.

``plan(cf, build_args, target)`` returns the stages to build in an order where every stage
comes after the stages it reads, each with ``deps`` (indexes of the stages it needs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpod.build.parser import Containerfile, Instruction, ParseError
from rpod.build.shell import expand, split_words
from rpod.errors import UsageError

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class Stage:
    """One ``FROM`` and the instructions up to the next one."""

    index: int  # position in the Containerfile (0-based)
    name: str  # the AS name, or the index as a string
    base: str  # the FROM argument, global ARGs expanded
    from_ins: Instruction
    instructions: list[Instruction] = field(default_factory=list)
    deps: set[int] = field(default_factory=set)
    base_stage: int | None = None  # FROM an earlier stage
    platform: str | None = None

    @property
    def steps(self) -> int:
        return 1 + len(self.instructions)


@dataclass
class Plan:
    stages: list[Stage]  # to build, dependencies first
    all_stages: list[Stage]
    global_args: dict[str, str]  # ARGs before the first FROM (values after --build-arg)
    used_args: set[str]


def _arg_decl(ins: Instruction, env: dict[str, str], escape: str) -> list[tuple[str, str | None]]:
    out = []
    for w in split_words(ins.args, escape):
        name, eq, value = w.partition("=")
        if not name:
            raise ParseError(f"line {ins.line}: ARG names can not be blank")
        out.append((name, expand(value, env, escape) if eq else None))
    if not out:
        raise ParseError(f"line {ins.line}: ARG requires exactly one argument")
    return out


def split_stages(cf: Containerfile, build_args: dict[str, str]) -> tuple[list[Stage], dict[str, str], set[str]]:
    """Cut the instructions into stages; the global ARGs with their values."""
    globals_: dict[str, str] = {}
    used: set[str] = set()
    stages: list[Stage] = []
    for ins in cf.instructions:
        if ins.cmd == "FROM":
            words = split_words(ins.args, cf.escape)
            if not words:
                raise ParseError(f"line {ins.line}: FROM requires either one or three arguments")
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
                raise ParseError(f"line {ins.line}: FROM requires either one or three arguments")
            base = expand(words[0], globals_, cf.escape)
            if not base:
                raise ParseError(f"line {ins.line}: base name ({words[0]}) should not be blank")
            idx = len(stages)
            name = words[2].lower() if len(words) == 3 else str(idx)
            platform = ins.flag("platform")
            stages.append(Stage(idx, name, base, ins,
                                platform=expand(platform, globals_, cf.escape) if platform else None))
        elif not stages:
            if ins.cmd != "ARG":
                raise ParseError(f"line {ins.line}: no build stage in current context "
                                 f"({ins.cmd} before the first FROM)")
            for name, default in _arg_decl(ins, globals_, cf.escape):
                if name in build_args:
                    globals_[name] = build_args[name]
                    used.add(name)
                elif default is not None:
                    globals_[name] = default
                else:
                    globals_.setdefault(name, "")
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise ParseError("no FROM instruction in the Containerfile")
    return stages, globals_, used


def stage_ref(stages: list[Stage], ref: str, before: int | None = None) -> int | None:
    """The stage a ``--from``/``FROM`` value names (its name or number), or None for an image."""
    low = ref.lower()
    limit = len(stages) if before is None else before
    for s in stages[:limit]:
        if s.name == low and not s.name.isdigit():
            return s.index
    if ref.isdigit() and int(ref) < limit:
        return int(ref)
    for s in stages[limit:]:  # a later stage: a reference that can only be a cycle or an error
        if s.name == low and not s.name.isdigit():
            return s.index
    return None


def _mount_froms(ins: Instruction) -> list[str]:
    out = []
    for m in ins.flag_values("mount"):
        for part in m.split(","):
            k, _, v = part.partition("=")
            if k.strip() == "from" and v:
                out.append(v.strip())
    return out


def plan(cf: Containerfile, build_args: dict[str, str], target: str | None = None) -> Plan:
    stages, globals_, used = split_stages(cf, build_args)
    for st in stages:
        ref = stage_ref(stages, st.base, st.index)
        if ref is not None:
            st.base_stage = ref
            st.deps.add(ref)
        for ins in st.instructions:
            froms = ([ins.flag("from")] if ins.cmd in ("COPY", "ADD") and ins.flag("from") else [])
            froms += _mount_froms(ins) if ins.cmd == "RUN" else []
            for f in froms:
                ref = stage_ref(stages, expand(f or "", globals_, cf.escape))
                if ref is not None:
                    st.deps.add(ref)
    if target:
        tgt = next((s for s in stages if s.name == target.lower()), None)
        if tgt is None:
            raise UsageError(f'the target "{target}" was not found in the provided Dockerfile')
    else:
        tgt = stages[-1]
    order: list[Stage] = []
    state: dict[int, int] = {}  # 1 visiting, 2 done

    def visit(s: Stage, path: list[str]) -> None:
        if state.get(s.index) == 2:
            return
        if state.get(s.index) == 1:
            cycle = " -> ".join([*path[path.index(s.name):], s.name])
            raise ParseError(f"line {s.from_ins.line}: stages form a cycle: {cycle}")
        state[s.index] = 1
        for d in sorted(s.deps):
            visit(stages[d], [*path, s.name])
        state[s.index] = 2
        order.append(s)

    visit(tgt, [])
    order.sort(key=lambda s: s.index)
    return Plan(order, stages, globals_, used)
