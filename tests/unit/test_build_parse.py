"""Containerfile parsing, Docker's variable expansion, ignore patterns and the stage graph."""

from __future__ import annotations

import pytest

from rpod.build.ignore import Ignore, parse_patterns, walk
from rpod.build.parser import ParseError, parse
from rpod.build.shell import ExpandError, expand, expand_words, parse_key_values, split_words
from rpod.build.stages import plan

ENV = {"A": "a", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize(("raw", "want"), [
    ("$A", "a"), ("${A}", "a"), ("pre${A}post", "preapost"), ("$NOPE", ""),
    ("${NOPE:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${A:-d}", "a"),
    ("${A:+set}", "set"), ("${EMPTY:+set}", ""), ("${EMPTY+set}", "set"), ("${NOPE+set}", ""),
    ("${NOPE:-${A}x}", "ax"), ("'$A'", "$A"), ('"$A"', "a"), ("\\$A", "$A"), ('"\\$A"', "$A"),
    ('"a\\nb"', "a\\nb"), ('"q\\"q"', 'q"q'), ("a\\ b", "a b"), ("$", "$"), ("a$-b", "a$-b"),
    ("$SP", "x y"),
])
def test_expand(raw: str, want: str) -> None:
    assert expand(raw, ENV) == want


def test_expand_errors_and_backtick_escape() -> None:
    with pytest.raises(ExpandError, match="NOPE: must be set"):
        expand("${NOPE:?must be set}", ENV)
    with pytest.raises(ExpandError):
        expand("${A", ENV)
    assert expand("`$A", ENV, "`") == "$A"
    assert expand("C:\\dir", ENV, "`") == "C:\\dir"


def test_words_keep_quotes_until_expanded() -> None:
    assert split_words('a "b c" d\\ e \'f g\'') == ['a', '"b c"', 'd\\ e', "'f g'"]
    assert expand_words('$SP "$SP" x', ENV) == ["x y", "x y", "x"]  # an expanded value is not split again


def test_key_values_both_forms() -> None:
    assert parse_key_values('K=v K2="two words" K3=$A', ENV, "\\", "ENV") == [
        ("K", "v"), ("K2", "two words"), ("K3", "a")]
    assert parse_key_values("K value with  spaces", ENV, "\\", "ENV") == [("K", "value with  spaces")]
    with pytest.raises(Exception, match="blank"):
        parse_key_values("=x", ENV, "\\", "ENV")


def test_parse_lines_comments_continuations_and_json() -> None:
    cf = parse(
        "# syntax=docker/dockerfile:1\n"
        "FROM alpine AS b\n"
        "\n"
        "# a comment\n"
        "RUN echo a \\\n"
        "  # inside\n"
        "\n"
        "  && echo b\n"
        'CMD ["sh", "-c", "x"]\n'
        "ENTRYPOINT [not json\n"
        "copy --chown=1:2 --link a /b\n")
    assert cf.directives == {"syntax": "docker/dockerfile:1"}
    cmds = [(i.cmd, i.line) for i in cf.instructions]
    assert cmds == [("FROM", 2), ("RUN", 5), ("CMD", 9), ("ENTRYPOINT", 10), ("COPY", 11)]
    run = cf.instructions[1]
    assert run.args == "echo a   && echo b"
    assert cf.instructions[2].json == ["sh", "-c", "x"]
    assert cf.instructions[3].json is None
    cp = cf.instructions[4]
    assert cp.flag("chown") == "1:2" and cp.flag("link") == "true" and cp.args == "a /b"


def test_escape_directive_and_errors() -> None:
    cf = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n")
    assert cf.escape == "`"
    assert cf.instructions[1].args == "dir c:\\   && echo"
    with pytest.raises(ParseError, match="line 3: unknown instruction: FOO"):
        parse("FROM x\n\nFOO bar\n")


def test_heredocs() -> None:
    cf = parse("FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<'one' <<-two /dst/\nraw $A\none\n\tfile two\n\ttwo\nENV Z=1\n")
    run, cp, env = cf.instructions[1:]
    assert run.heredocs[0].content == "echo $A\n" and run.heredocs[0].expand
    assert [(h.name, h.content, h.expand) for h in cp.heredocs] == [
        ("one", "raw $A\n", False), ("two", "file two\n", True)]
    assert env.cmd == "ENV" and env.line == 10


def test_ignore_patterns(tmp_path) -> None:
    ig = Ignore(parse_patterns("# c\n*.log\n!keep.log\nbuild/\n**/tmp\ndocs/*.md\n!docs/README.md\n/abs\n"))
    assert ig.excluded("a.log") and not ig.excluded("keep.log") and not ig.excluded("sub/a.log")
    assert ig.excluded("build/x/y") and ig.excluded("a/b/tmp") and ig.excluded("tmp/f")
    assert ig.excluded("docs/x.md") and not ig.excluded("docs/README.md") and ig.excluded("abs")
    for p in ("a.log", "keep.log", "build/x", "docs/README.md", "docs/y.md", "src/tmp/z", "src/m.py"):
        f = tmp_path / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
    assert walk(tmp_path, "", ig) == ["docs", "docs/README.md", "keep.log", "src", "src/m.py"]


def test_ignore_exceptions_inside_excluded_dirs(tmp_path) -> None:
    """Podman's 070-build case (buildah #3486): an excluded directory is walked only when an
    exception pattern starts with its path."""
    ig = Ignore(parse_patterns("# comment\ntest*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n"))
    for p in ("test1", "test2", "subdir1/sub1", "subdir1/sub2", "subdir1/sub3", "subdir2/sub1", "subdir2/sub3"):
        f = tmp_path / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x")
    kept = [p for p in walk(tmp_path, "", ig) if (tmp_path / p).is_file()]
    assert kept == ["subdir1/sub1", "subdir1/sub3", "test2"]


def test_stage_plan_target_args_and_cycle() -> None:
    cf = parse("ARG BASE=alpine\nARG V\nFROM $BASE AS one\nRUN x\nFROM busybox:${V:-1} AS two\n"
               "COPY --from=one /a /a\nFROM two\nCOPY --from=0 /b /b\n")
    p = plan(cf, {"V": "2"})
    assert [(s.name, s.base, sorted(s.deps)) for s in p.stages] == [
        ("one", "alpine", []), ("two", "busybox:2", [0]), ("2", "two", [0, 1])]
    assert p.stages[2].base_stage == 1 and p.used_args == {"V"}
    assert [s.name for s in plan(cf, {}, "two").stages] == ["one", "two"]
    with pytest.raises(Exception, match='target "nope" was not found'):
        plan(cf, {}, "nope")
    cyc = parse("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n")
    with pytest.raises(ParseError, match="cycle"):
        plan(cyc, {})
    with pytest.raises(ParseError, match="line 1: no build stage"):
        plan(parse("RUN x\nFROM y\n"), {})
