"""Go text/template engine: golden tables measured with Podman 4.3.1, plus feature and error tests.

Rows marked "Podman 4.3.1" were produced by ``podman info --format TEMPLATE`` (or ``version``) on this
machine and are rendered here through the same Podman rules (``render_one``), against Python data that
mirrors the Go structs (field order, struct vs map).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from rpod.errors import UsageError
from rpod.format import render_list, render_one
from rpod.format.gofmt import format_v, go_json, go_time, rfc3339nano, sprintf, to_jsonable
from rpod.format.gotemplate import NO_VALUE, TemplateError, parse

# --------------------------------------------------------------------------- data mirroring Podman's structs


@dataclass
class Version:
    __go_type__ = "*define.Version"
    APIVersion: str = "4.3.1"
    Version: str = "4.3.1"
    GoVersion: str = "go1.19.8"
    GitCommit: str = ""
    BuiltTime: str = "Thu Jan  1 00:00:00 1970"
    Built: int = 0
    OsArch: str = "linux/amd64"
    Os: str = "linux"


@dataclass
class SystemVersion:
    Client: Version = field(default_factory=Version)


@dataclass
class IDMap:
    ContainerID: int
    HostID: int
    Size: int


@dataclass
class IDMappings:
    UIDMap: list[IDMap]


@dataclass
class HostInfo:
    __go_type__ = "*define.HostInfo"
    Arch: str
    IDMappings: IDMappings


@dataclass
class Store:
    GraphStatus: dict[str, str]


@dataclass
class Info:
    Host: HostInfo
    Store: Store


def info(graph_status: dict[str, str] | None = None) -> Info:
    maps = IDMappings([IDMap(0, 1001, 1), IDMap(1, 100000, 65536)])
    return Info(HostInfo("amd64", maps), Store({} if graph_status is None else graph_status))


def run(fmt: str, data: object, name: str = "info") -> tuple[str, str | None]:
    """(stdout, error) as the CLI would show them: Go streams, so text before an error is printed."""
    try:
        return render_one(fmt, data, name=name), None
    except TemplateError as e:
        return e.output, str(e)


# --------------------------------------------------------------------------- field notes B5


def test_b5_version_fields_and_tab_escape() -> None:
    assert run("{{.Client.Version}}\\t{{.Client.OsArch}}", SystemVersion()) == ("4.3.1\tlinux/amd64\n", None)


def test_b5_struct_prints_values_in_field_order() -> None:
    out = "{4.3.1 4.3.1 go1.19.8  Thu Jan  1 00:00:00 1970 0 linux/amd64 linux}\n"
    assert run("{{.Client}}", SystemVersion()) == (out, None)


def test_b5_json_of_struct_is_one_line() -> None:
    out = ('{"APIVersion":"4.3.1","Version":"4.3.1","GoVersion":"go1.19.8","GitCommit":"",'
           '"BuiltTime":"Thu Jan  1 00:00:00 1970","Built":0,"OsArch":"linux/amd64","Os":"linux"}\n')
    assert run("{{json .Client}}", SystemVersion()) == (out, None)


def test_b5_pipes_pass_last_argument_and_eq_is_any_of() -> None:
    fmt = '{{.Client.Version | upper | printf "%s!"}} {{len .Client.Version}} {{eq .Client.Os "linux" "x"}}'
    assert run(fmt, SystemVersion()) == ("4.3.1! 5 true\n", None)


def test_b5_escaped_newline_in_string_falls_back_to_original_text() -> None:
    assert run('{{ "a\\nb" }}', SystemVersion()) == ("a\nb", None)  # no trailing newline


def test_b5_unknown_struct_field_is_an_error() -> None:
    out, err = run("{{.Client.Nope}}", SystemVersion(), name="version")
    assert out == ""
    assert err == ('template: version:1:9: executing "version" at <.Client.Nope>: '
                   "can't evaluate field Nope in type *define.Version")


def test_b5_range_over_struct_is_an_error() -> None:
    out, err = run("{{range .}}x{{end}}", SystemVersion(), name="version")
    assert err == ('template: version:1:8: executing "version" at <.>: range can\'t iterate over '
                   "{{4.3.1 4.3.1 go1.19.8  Thu Jan  1 00:00:00 1970 0 linux/amd64 linux}}")


def test_b5_missing_map_key_prints_no_value() -> None:
    data = info({"Backing Filesystem": "extfs"})
    fmt = '{{index .Store.GraphStatus "Backing Filesystem"}} {{.Store.GraphStatus.nope}}'
    assert run(fmt, data) == ("extfs <no value>\n", None)


def test_b5_list_errors_only_when_a_row_executes() -> None:
    assert render_list("{{.Nope}}", [], name="ps") == ""


def test_b5_json_of_no_rows() -> None:
    assert render_list("json", []) == "[]\n"


def test_b5_table_header_with_override() -> None:
    out = render_list("table {{.ID}}\\t{{.Names}}\\t{{.RunningFor}}", [], headers={"ID": "CONTAINER ID"})
    assert out == "CONTAINER ID  NAMES       RUNNING FOR\n"


def test_b5_table_header_of_any_field_is_derived_not_no_value() -> None:
    out = render_list("table {{.Repository}} {{.Tag}}\\t{{.CreatedSince}}", [], headers={"CreatedSince": "CREATED"})
    assert out == "REPOSITORY  TAG         CREATED\n"


def test_b5_methods_with_arguments_are_called() -> None:
    @dataclass
    class Ctr:
        Labels: dict[str, str]

        def Label(self, key: str) -> str:  # noqa: N802 - Go method name
            return self.Labels.get(key, "")

    assert render_list('{{.Label "x"}}', [Ctr({"x": "1"}), Ctr({})]) == "1\n\n"


# --------------------------------------------------------------------------- Podman 4.3.1 golden tables

PODMAN_OUTPUT = [
    ('{{"a"}} {{1}} {{1.5}} {{true}} {{\'x\'}} {{0x1F}} {{1e3}} {{-2}} {{0755}} {{1_000_000}}', 'a 1 1.5 true 120 31 1000 -2 493 1000000\n'),
    ('{{`raw\\n`}}|{{"esc\\t\\"q\\""}}|{{"\\u00e9\\x41\\101"}}', 'raw\n|esc\t"q"|éAA\n'),
    ('{{printf "%v %v %v %v %v" 123456789.0 0.1 1e-5 -0.5 2.5e10}}', '1.23456789e+08 0.1 1e-05 -0.5 2.5e+10\n'),
    ('{{printf "%6.2f|%-6.2f|%06.2f|%+.3e|%g|%.3g|%G" 3.14159 3.14159 3.14159 12345.6789 1e100 1234567.0 1e-10}}', '  3.14|3.14  |003.14|+1.235e+04|1e+100|1.23e+06|1E-10\n'),
    ('{{printf "%d|%5d|%-5d|%05d|%x|%X|%o|%O|%b|%#o|%#b|% d" 42 42 42 -42 3054 3054 8 8 5 8 5 7}}', '42|   42|42   |-0042|bee|BEE|10|0o10|101|010|0b101| 7\n'),
    ('{{printf "%s|%10s|%-10s|%.2s|%q|%x|%X" "go" "go" "go" "golang" "a\\"b" "hi" "hi"}}', 'go|        go|go        |go|"a\\"b"|6869|6869\n'),
    ('{{printf "%t|%v|%5t" true false true}}|{{printf "%v|%d" nil nil}}', 'true|false| true|<nil>|%!d(<nil>)\n'),
    ('{{printf "%c%c%c|%q|%U" 72 105 33 10 8364}}', "Hi!|'\\n'|U+20AC\n"),
    ('{{printf "%v|%s|%q" (split "a b c" " ") (split "x,y" ",") (split "x,y" ",")}}', '[a b c]|[x y]|["x" "y"]\n'),
    ('{{printf "%%|%5%|%d%%" 50}}', '%|%|50%\n'),
    ('{{print "a" "b" 1 2 true "c" nil}}|{{println "x" 1 true}}', 'ab1 2 truec<nil>|x 1 true\n\n'),
    ('{{len "abc"}} {{len "日本"}} {{len (split "a,b,c" ",")}}', '3 6 3\n'),
    ('{{index (split "a,b,c" ",") 1}} {{index "abc" 0}}', 'b 97\n'),
    ('{{slice "abcdef" 2}} {{slice "abcdef" 1 4}} {{slice (split "a,b,c,d" ",") 1 3}} {{slice "abc"}}', 'cdef bcd [b c] abc\n'),
    ('{{eq 1 1}} {{eq 1 2}} {{eq "a" "b" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}} {{eq true true}}', 'true false true true true true true false true\n'),
    ('{{if 1}}yes{{end}} {{if 0}}no{{else}}else{{end}} {{if ""}}a{{else if 0}}b{{else if "x"}}c{{end}}', 'yes else c\n'),
    ('{{with "v"}}[{{.}}]{{end}} {{with ""}}x{{else}}empty{{end}} {{with $x := "q"}}{{$x}}{{.}}{{end}}', '[v] empty qq\n'),
    ('{{range split "a,b,c" ","}}<{{.}}>{{end}} {{range $i, $e := split "a,b" ","}}{{$i}}:{{$e}} {{end}}', '<a><b><c> 0:a 1:b \n'),
    ('{{range split "" ","}}[{{.}}]{{else}}none{{end}}|{{range slice (split "a" ",") 0 0}}x{{else}}empty{{end}}', '[]|empty\n'),
    ('{{range $i, $e := split "a,b,c,d" ","}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$e}}{{end}}', 'ac\n'),
    ('{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}{{range split "a,b" ","}}{{$x = .}}{{end}}{{$x}}', '12b\n'),
    ('a  {{- "b" -}}  c {{- /* comment */ -}} d {{/* c2 */}} e', 'abcd  e\n'),
    ('{{- "x" }}  {{ "y" -}}', 'x  y'),
    ('z', 'z\n'),
    ('{{"a" | printf "%s-%s" "b"}} {{1 | printf "%d %d" 2}} {{"x" | len | printf "%03d"}}', 'b-a 2 1 001\n'),
    ('{{(printf "%s" "abc") | len}} {{len (printf "%d" 12345)}}', '3 5\n'),
    ('{{html "<b>&\'\\""}} {{js "</script>\\n\'"}} {{urlquery "a b/c?d=e&f"}} {{html 1 2}} {{print (html "<") "x"}}', "&lt;b&gt;&amp;&#39;&#34; \\u003C/script\\u003E\\u000A\\' a+b%2Fc%3Fd%3De%26f 1 2 &lt;x"),
    ('{{upper "abc"}} {{lower "ABC"}} {{title "hello world-foo bar_baz 1abc éa"}} {{join (split "a b c" " ") ", "}}', 'ABC abc Hello World-Foo Bar_baz 1abc Éa a, b, c\n'),
    ('{{pad "abc" 1 2}}| {{truncate "abcdef" 2}} {{truncate "ab" 10}} {{truncate "" 0}}', ' abc  | ab ab \n'),
    ('{{json "a<b>&c"}} {{json 1}} {{json 1.5}} {{json true}} {{json (split "a,b" ",")}} {{json 100000000000000000000.0}} {{json 1e21}} {{json 0.000001}} {{json 0.0000001}}', '"a<b>&c" 1 1.5 true ["a","b"] 100000000000000000000 1e+21 0.000001 1e-7\n'),
    ('{{printf "%v" 1e6}} {{printf "%v" 999999.0}} {{printf "%v" 1e-4}} {{printf "%v" 1.0}} {{printf "%.0f" 2.5}} {{printf "%.0f" 3.5}} {{printf "%.1f" 0.05}}', '1e+06 999999 0.0001 1 2 4 0.1\n'),
    ('{{printf "%5.1v|%-8v|%08.3f|%+v|% v" 3.14159 "ab" -3.14159 5 5}}', '    3|ab      |-003.142|5| 5\n'),
    ('{{printf "%v %v" (eq 1 1) (len "")}}{{"\\n"}}line2', 'true 0\nline2'),
    ('{{printf "%-5d|%-05d|%05s|%.3x|%10.4q" 3 3 "ab" "abcdef" "abcdef"}}', '3    |3    |000ab|616263|    "abcd"\n'),
    ('{{printf "%3c|%-3c|%x|%X" 65 66 "日" -1}}', '  A|B  |e697a5|-1\n'),
    ('{{define "x"}}y{{end}}', '\n'),
    ('{{ .Host.Arch | printf "%s-%s" "a" }}', 'a-amd64\n'),
    ('{{-3}} {{- 3}} {{3 -}} x', '-33 3x\n'),
    ('{{ .Host.Arch | not }} {{ "" | not }}', 'false true\n'),
    ('{{ .Store.GraphStatus }}', 'map[]\n'),
    ('{{ range $k, $v := .Store.GraphStatus }}{{$k}}={{$v}};{{end}}', '\n'),
    ('{{ index .Store.GraphStatus "Supports d_type" }} {{ .Store.GraphStatus.Nope | printf "%q" }} {{ printf "%v" .Store.GraphStatus.nope }}', ' %!q(<nil>) <nil>\n'),
    ('{{ .Store.GraphStatus.Nope.Deeper }} {{ and .Store.GraphStatus.x 1 }} {{ or .Store.GraphStatus.x 2 }} {{ eq .Store.GraphStatus.x "a" }}', '<no value> <no value> 2 false\n'),
    ('{{ range .Store.GraphStatus.x }}a{{else}}b{{end}}', 'b\n'),
    ('{{range .Host.IDMappings.UIDMap}}{{.ContainerID}}:{{.HostID}} {{end}}', '0:1001 1:100000 \n'),
    ('{{ .Host.Arch | printf "%s" | len }} {{ .Host.Arch | len | printf "%d" }}', '5 5\n'),
]

PODMAN_ERRORS = [  # (template, text printed before the error, error)
    ("{{'ab'}}", '', "template: info:1: malformed character constant: 'ab'"),
    ('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{not 0}} {{not "a"}} {{and}}', '0 2 x  true false ', 'template: info:1:78: executing "info" at <and>: wrong number of args for and: want at least 1 got 0'),
    ('{{$}}|{{$.}}', '', 'template: info:1: unexpected <.> in operand'),
    ('{{', '', 'template: info:1: unclosed action'),
    ('{{.Host', '', 'template: info:1: unclosed action'),
    ('{{if 1}}x', '', 'template: info:1: unexpected EOF'),
    ('{{end}}', '', 'template: info:1: unexpected {{end}}'),
    ('{{else}}', '', 'template: info:1: unexpected {{else}}'),
    ('{{if 1}}a{{else}}b{{else}}c{{end}}', '', 'template: info:1: expected end; found {{else}}'),
    ('{{range 1}}x{{end}}', '', 'template: info:1:8: executing "info" at <1>: range can\'t iterate over 1'),
    ('{{range $i, $v, $w := 1}}{{end}}', '', 'template: info:1: too many declarations in range'),
    ('{{$x := 1}}{{$y}}', '', 'template: info:1: undefined variable "$y"'),
    ('{{ "unterminated }}', '', 'template: info:1: unterminated quoted string'),
    ('{{`raw', '', 'template: info:1: unterminated raw quoted string'),
    ('{{break}}', '', 'template: info:1: {{break}} outside {{range}}'),
    ('{{1 | 2}}', '', 'template: info:1: non executable command in pipeline stage 2'),
    ('{{printf}}', '', 'template: info:1:2: executing "info" at <printf>: wrong number of args for printf: want at least 1 got 0'),
    ('{{printf 1}}', '', 'template: info:1:9: executing "info" at <1>: expected string; found 1'),
    ('{{len}}', '', 'template: info:1:2: executing "info" at <len>: wrong number of args for len: want 1 got 0'),
    ('{{len 1 2}}', '', 'template: info:1:2: executing "info" at <len>: wrong number of args for len: want 1 got 2'),
    ('{{nil}}', '', 'template: info:1:2: executing "info" at <nil>: nil is not a command'),
    ('{{"a" "b"}}', '', 'template: info:1:2: executing "info" at <"a">: can\'t give argument to non-function "a"'),
    ('{{index (split "a" ",") 5}}', '', 'template: info:1:2: executing "info" at <index (split "a" ",") 5>: error calling index: index out of range: 5'),
    ('{{index 1 1}}', '', 'template: info:1:2: executing "info" at <index 1 1>: error calling index: can\'t index item of type int'),
    ('{{slice "abc" 2 1}}', '', 'template: info:1:2: executing "info" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1'),
    ('{{eq (split "a" ",") 1}}', '', 'template: info:1:2: executing "info" at <eq (split "a" ",") 1>: error calling eq: incompatible types for comparison'),
    ('{{lt true false}}', '', 'template: info:1:2: executing "info" at <lt true false>: error calling lt: invalid type for comparison'),
    ('{{lt nil 1}}', '', 'template: info:1:2: executing "info" at <lt nil 1>: error calling lt: invalid type for comparison'),
    ('{{template "x"}}', '', 'template: info:1:11: executing "info" at <{{template "x"}}>: template "x" not defined'),
    ('{{(1).X}}', '', 'template: info:1:3: executing "info" at <1>: can\'t evaluate field X in type int'),
    ('{{"a".X}}', '', 'template: info:1: unexpected . after term "\\"a\\""'),
    ('{{.Host.Arch}}{{$x := .Host}}{{$x.Nope}}', 'amd64', 'template: info:1:33: executing "info" at <$x.Nope>: can\'t evaluate field Nope in type *define.HostInfo'),
    ('{{with .Host}}{{.Arch}}{{.Bad}}{{end}}', 'amd64', 'template: info:1:25: executing "info" at <.Bad>: can\'t evaluate field Bad in type *define.HostInfo'),
    ('{{$x := "a"}}{{$x = 1}}{{$x}}{{$z = 2}}', '1', 'template: info:1:36: executing "info" at <2>: undefined variable: $z'),
    ('{{if}}{{end}}', '', 'template: info:1: missing value for if'),
    ('{{range}}{{end}}', '', 'template: info:1: missing value for range'),
    ('{{()}}', '', 'template: info:1: missing value for parenthesized pipeline'),
    ('{{.Host.Arch)}}', '', 'template: info:1: unexpected ")" in command'),
    ('{{(.Host.Arch}}', '', 'template: info:1: unclosed left paren'),
    ('{{1 2}}', '', 'template: info:1:2: executing "info" at <1>: can\'t give argument to non-function 1'),
    ('{{.Host.Arch 1}}', '', 'template: info:1:7: executing "info" at <.Host.Arch>: Arch has arguments but cannot be invoked as function'),
    ('{{/* unclosed', '', 'template: info:1: unclosed comment'),
    ('{{/* a */ x}}', '', 'template: info:1: comment ends before closing delimiter'),
    ('{{ /* a */ }}', '', 'template: info:1: unexpected "/" in command'),
    ('{{ 0x }}', '', 'template: info:1: illegal number syntax: "0x"'),
    ('{{ 1.2.3 }}', '', 'template: info:1: unexpected ".3" in operand'),
    ('{{ upper .Store.GraphStatus.x }}', '', 'template: info:1:15: executing "info" at <.Store.GraphStatus.x>: invalid value; expected string'),
    ('{{ call 1 }}', '', 'template: info:1:3: executing "info" at <call 1>: error calling call: non-function of type int'),
    ('{{else if 1}}', '', 'template: info:1: unexpected {{else}}'),
    ('{{if 1}}{{else if 2}}{{else}}{{else}}{{end}}', '', 'template: info:1: expected end; found {{else}}'),
]


@pytest.mark.parametrize(("fmt", "expected"), PODMAN_OUTPUT)
def test_podman_golden_output(fmt: str, expected: str) -> None:
    assert run(fmt, info()) == (expected, None)


@pytest.mark.parametrize(("fmt", "printed", "error"), PODMAN_ERRORS)
def test_podman_golden_errors(fmt: str, printed: str, error: str) -> None:
    assert run(fmt, info()) == (printed, error)


# --------------------------------------------------------------------------- engine features


@dataclass
class Port:
    HostPort: int
    Protocol: str = "tcp"


@dataclass
class Ctr:
    ID: str
    Names: list[str]
    Labels: dict[str, str]
    Ports: list[Port] = field(default_factory=list)
    Running: bool = False
    secret: str = "hidden"

    def Label(self, key: str) -> str:  # noqa: N802 - Go method name
        return self.Labels.get(key, "")

    def Short(self) -> str:  # noqa: N802
        return self.ID[:3]

    def Fail(self) -> str:  # noqa: N802
        raise RuntimeError("boom")


CTR = Ctr("abcdef", ["web", "db"], {"b": "2", "a": "1"}, [Port(80), Port(53, "udp")], True)


def ex(text: str, data: object = CTR) -> str:
    return parse(text, "t").execute(data)


def ex_err(text: str, data: object = CTR) -> str:
    with pytest.raises(TemplateError) as e:
        ex(text, data)
    return str(e.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{.ID}} {{.Short}} {{.Label \"a\"}} {{.Label \"zz\"}}|", "abcdef abc 1 |"),
        ("{{.Ports}}", "[{80 tcp} {53 udp}]"),
        ("{{printf \"%+v\" (index .Ports 1)}}", "{HostPort:53 Protocol:udp}"),
        ("{{range .Ports}}{{.HostPort}}/{{.Protocol}} {{end}}", "80/tcp 53/udp "),
        ("{{.Labels}} {{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", "map[a:1 b:2] a=1,b=2,"),
        ("{{range .Labels}}{{.}}{{end}}", "12"),
        ("{{(index .Ports 0).HostPort}} {{$p := index .Ports 1}}{{$p.Protocol}}", "80 udp"),
        ("{{with $x := .Names}}{{index $x 1}}{{end}}", "db"),
        ("{{range $i, $n := .Names}}{{if $i}},{{end}}{{$n}}{{end}}", "web,db"),
        ("{{$n := 0}}{{range .Names}}{{$n = len .}}{{end}}{{$n}}", "2"),
        ("{{if .Running}}up{{else}}down{{end}} {{if not .Running}}x{{else if .ID}}y{{end}}", "up y"),
        ("{{with .Labels.none}}a{{else with .Labels.a}}b{{.}}{{end}}", "b1"),
        ("{{range .Names}}{{if eq . \"db\"}}{{break}}{{end}}{{.}}{{end}}", "web"),
        ("{{range .Names}}{{if eq . \"web\"}}{{continue}}{{end}}{{.}}{{end}}", "db"),
        ("{{range .Names}}{{$.ID}}{{end}}", "abcdefabcdef"),
        ("a\n  {{- .ID -}}  \n b", "aabcdefb"),
        ("{{- /* note */ -}}  x  {{/* y */}}", "x  "),
        ("{{define \"p\"}}<{{.HostPort}}>{{end}}{{range .Ports}}{{template \"p\" .}}{{end}}", "<80><53>"),
        ("{{block \"b\" .ID}}[{{.}}]{{end}}", "[abcdef]"),
        ("{{join .Names \",\" | upper}} {{\"a:b\" | split \":\" | len}}", "WEB,DB 1"),
        ("{{json .Labels}} {{json .Ports}}", '{"b":"2","a":"1"} [{"HostPort":80,"Protocol":"tcp"},{"HostPort":53,"Protocol":"udp"}]'),
        ("{{index .Labels \"a\"}}{{index .Labels \"zz\"}}|{{.Labels.zz}}", "1|<no value>"),
        ("{{and .Running .ID}} {{or \"\" .Names}}", "abcdef [web db]"),
    ],
)
def test_engine_features(text: str, expected: str) -> None:
    assert ex(text) == expected


def test_dicts_are_maps_and_any_data_works() -> None:
    assert ex("{{.a.b}} {{.a.c}} {{.n}}", {"a": {"b": [1, 2.5, None, True]}, "n": None}) == "[1 2.5 <nil> true] <no value> <nil>"
    assert ex("{{.}}", None) == "<nil>"
    assert ex('{{call .f "b"}}', {"f": lambda x: x * 2}) == "bb"
    assert ex("{{range .}}{{.}}{{else}}empty{{end}}", []) == "empty"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{.Nope}}", "template: t:1:2: executing \"t\" at <.Nope>: can't evaluate field Nope in type Ctr"),
        ("{{.secret}}", "template: t:1:2: executing \"t\" at <.secret>: can't evaluate field secret in type Ctr"),
        ("{{.Label}}", "template: t:1:2: executing \"t\" at <.Label>: wrong number of args for Label: want 1 got 0"),
        ("{{.ID \"x\"}}", "template: t:1:2: executing \"t\" at <.ID>: ID has arguments but cannot be invoked as function"),
        ("{{.Fail}}", "template: t:1:2: executing \"t\" at <.Fail>: error calling Fail: boom"),
        ("x\n{{range .Ports}}{{.Nope}}{{end}}", "template: t:2:18: executing \"t\" at <.Nope>: can't evaluate field Nope in type Port"),
        ("{{.Names.x}}", "template: t:1:8: executing \"t\" at <.Names.x>: can't evaluate field x in type []string"),
        ("{{template \"x\"}}", "template: t:1:11: executing \"t\" at <{{template \"x\"}}>: template \"x\" not defined"),
        ("{{join .ID \",\"}}", "template: t:1:7: executing \"t\" at <.ID>: wrong type for value; expected []string; got string"),
        ("{{nope}}", "template: t:1: function \"nope\" not defined"),
        ("{{if 1}}\n{{else}}\n{{else}}{{end}}", "template: t:3: expected end; found {{else}}"),
        ("{{range $a, $b, $c := .}}{{end}}", "template: t:1: too many declarations in range"),
        ("{{$x, $y := 1}}", "template: t:1: too many declarations in command"),
        ("{{.ID | 3}}", "template: t:1: non executable command in pipeline stage 2"),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
    ],
)
def test_engine_errors(text: str, message: str) -> None:
    assert ex_err(text) == message


def test_template_error_is_a_usage_error_exiting_125() -> None:
    with pytest.raises(UsageError) as e:
        render_one("{{.Nope}}", CTR)
    assert e.value.exit_code == 125


def test_output_before_an_error_is_kept() -> None:
    with pytest.raises(TemplateError) as e:
        ex("{{.ID}} {{.Nope}}")
    assert e.value.output == "abcdef "


def test_no_value_is_falsy_and_prints_as_go_does() -> None:
    assert not NO_VALUE
    assert format_v(NO_VALUE) == "<no value>"


# --------------------------------------------------------------------------- Go value printing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"), (None, "<nil>"), (7, "7"), (-0.0, "-0"), (1.0, "1"), (0.1, "0.1"), (1e6, "1e+06"),
        (123456.0, "123456"), (1.5e-7, "1.5e-07"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
        (["a", 1], "[a 1]"), ({"b": 1, "a": [2]}, "map[a:[2] b:1]"), ((), "[]"), (Port(8), "{8 tcp}"),
        (dt.timedelta(minutes=1, seconds=30), "1m30s"), (dt.timedelta(hours=1), "1h0m0s"),
        (dt.timedelta(microseconds=1500), "1.5ms"), (dt.timedelta(0), "0s"), (dt.timedelta(seconds=-2), "-2s"),
    ],
)
def test_format_v(value: object, expected: str) -> None:
    assert format_v(value) == expected


def test_times_print_like_go() -> None:
    t = dt.datetime(2006, 1, 2, 15, 4, 5, 120000, tzinfo=dt.timezone(dt.timedelta(hours=-7), "MST"))
    assert go_time(t) == "2006-01-02 15:04:05.12 -0700 MST"
    assert rfc3339nano(t) == "2006-01-02T15:04:05.12-07:00"
    utc = dt.datetime(2020, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    assert go_time(utc) == "2020-05-06 07:08:09 +0000 UTC"
    assert rfc3339nano(utc) == "2020-05-06T07:08:09Z"
    assert format_v(utc) == go_time(utc)


def test_sprintf_width_and_precision_apply_per_element() -> None:
    assert sprintf("%5s|%-3d|%.1f", ["a", "b"], 7, 2.25) == "[    a     b]|7  |2.2"
    assert sprintf("%d %s", 1) == "1 %!s(MISSING)"


def test_json_encoding_matches_go() -> None:
    @dataclass
    class Named:
        __json_names__ = {"Id": "ID", "Internal": None}
        Id: str
        Internal: int
        When: dt.datetime
        Took: dt.timedelta

    obj = Named("x", 1, dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC), dt.timedelta(seconds=1))
    assert to_jsonable(obj) == {"ID": "x", "When": "2020-01-02T03:04:05Z", "Took": 1_000_000_000}
    assert go_json([1.0, 2.5, 1e21, 1e-7, "<&>", {}]) == '[1,2.5,1e+21,1e-7,"<&>",{}]'
    assert go_json({"a": [1]}, indent=2) == '{\n  "a": [\n    1\n  ]\n}'
    assert render_one("json", {"k": "v"}, json_indent=None) == '{"k":"v"}\n'
