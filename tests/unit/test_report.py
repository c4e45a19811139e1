"""Podman's ``--format`` rules: JSON shorthand, NormalizeFormat, implicit range, table headers, tabwriter.

Table outputs marked "Podman 4.3.1" were measured with ``podman images --format`` on two imported
images (``localhost/averyveryverylongname:t1`` and ``localhost/x:latest``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rpod.format import render_list, render_one
from rpod.format.gotemplate import TemplateError
from rpod.format.report import camel_split, enforce_range, header_text, is_json, normalize_format, tabwrite


@dataclass
class ImageRow:
    Repository: str
    Tag: str
    Names: list[str]
    Containers: int = 0
    ReadOnly: bool = False
    VirtualSize: int = 11331
    Labels: dict[str, str] = field(default_factory=dict)


NAMES = ["localhost/averyveryverylongname:t1", "localhost/x:latest"]
ROWS = [ImageRow("localhost/averyveryverylongname", "t1", NAMES), ImageRow("localhost/x", "latest", NAMES)]
HEADERS = {"ReadOnly": "R/O", "ID": "IMAGE ID"}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", True), ("  json\n", True), ("{{json}}", True), ("{{ json. }}", True), ("{{json .}}", False),
        ("jsonx", False), ("{{.json}}", False), ("table json", False),
    ],
)
def test_is_json(fmt: str, expected: bool) -> None:
    assert is_json(fmt) is expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("{{.A}}\\t{{.B}}", "{{.A}}\t{{.B}}\n"),
        ("{{.A}} {{.B}}\\n", "{{.A}} {{.B}}\n"),
        ("table {{.A}} {{.B}}\\t{{.C}}", "{{.A}}\t{{.B}}\t{{.C}}\n"),
        ("table {{ .A | upper }}", "{{\t.A\t|\tupper\t}}\n"),
        ("x\n", "x\n"),
    ],
)
def test_normalize_format(fmt: str, expected: str) -> None:
    assert normalize_format(fmt) == expected


def test_enforce_range_only_when_the_template_does_not_range_over_dot() -> None:
    assert enforce_range("{{.A}}\n") == "{{range .}}{{.A}}\n{{end -}}"
    ranged = "{{ range . }}{{.A}}{{ end -}}"
    assert enforce_range(ranged) == ranged
    assert enforce_range("{{range .Names}}{{.}}{{end}}") == "{{range .}}{{range .Names}}{{.}}{{end}}{{end -}}"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("RunningFor", ["Running", "For"]), ("ID", ["ID"]), ("APIVersion", ["API", "Version"]),
        ("CreatedAt", ["Created", "At"]), ("GL11Version", ["GL", "11", "Version"]), ("lower", ["lower"]),
        ("PDFLoader", ["PDF", "Loader"]), ("IPv4", ["I", "Pv", "4"]),
    ],
)
def test_camel_split(name: str, words: list[str]) -> None:
    assert camel_split(name) == words


def test_header_text() -> None:
    assert header_text("RunningFor") == "RUNNING FOR"
    assert header_text("ID", {"ID": "container id"}) == "CONTAINER ID"
    assert header_text("OsArch") == "OS ARCH"


# --------------------------------------------------------------------------- tabwriter


def test_tabwriter_pads_to_minwidth_and_leaves_last_cell_alone() -> None:
    assert tabwrite("a\tb\tc\n") == "a           b           c\n"
    assert tabwrite("averyveryverylong\tb\nx\ty\n") == "averyveryverylong  b\nx                  y\n"


def test_tabwriter_column_blocks_are_runs_of_lines_with_that_column() -> None:
    text = "a\tb\tc\naa\t" + "b" * 18 + "\nx\n" + "a" * 18 + "\tb\tc\n"
    assert tabwrite(text) == (
        "a           b           c\n"
        "aa          " + "b" * 18 + "\n"
        "x\n"
        + "a" * 18 + "  b           c\n"
    )


def test_tabwriter_counts_characters_not_bytes_and_keeps_unterminated_text() -> None:
    assert tabwrite("é\tx\nab\ty") == "é           x\nab          y"
    assert tabwrite("TAG\t") == "TAG"  # Flush does not terminate an empty trailing cell


# --------------------------------------------------------------------------- render_list (Podman 4.3.1)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (
            "table {{.Repository}}\\t{{.Tag}}\\t{{.Containers}}",
            "REPOSITORY                       TAG         CONTAINERS\n"
            "localhost/averyveryverylongname  t1          0\n"
            "localhost/x                      latest      0\n",
        ),
        (
            "table {{.Repository}} {{.Tag}} {{.ReadOnly}} {{.VirtualSize}}",
            "REPOSITORY                       TAG         R/O         VIRTUAL SIZE\n"
            "localhost/averyveryverylongname  t1          false       11331\n"
            "localhost/x                      latest      false       11331\n",
        ),
        (
            "table {{.Tag}}|{{.Names}}|{{.Containers}}",
            "TAG|NAMES|CONTAINERS\n"
            "t1|[localhost/averyveryverylongname:t1 localhost/x:latest]|0\n"
            "latest|[localhost/averyveryverylongname:t1 localhost/x:latest]|0\n",
        ),
        ("{{.Tag}}\\t{{.Containers}}\\n", "t1\t0\nlatest\t0\n"),
        ("{{range .}}{{.Tag}} {{end}}", "t1 latest \n"),
        ('{{"a\\nb"}}', "a\nba\nb"),
        ('{{"x"}}{{/* c */}}{{- " y" }}', "x y\nx y\n"),
        ('{{if eq .Tag "latest"}}L{{else if eq .Tag "t1"}}T{{end}}', "T\nL\n"),
        ("{{.Labels}}|{{.Labels.foo}}|{{index .Labels \"foo\"}}|{{len .Labels}}", "map[]|<no value>||0\n" * 2),
    ],
)
def test_render_list_podman_golden(fmt: str, expected: str) -> None:
    assert render_list(fmt, ROWS, headers=HEADERS, name="images") == expected


@pytest.mark.parametrize(
    ("fmt", "printed", "error"),
    [
        ("{{.Nope}}", "", 'template: images:1:13: executing "images" at <.Nope>: can\'t evaluate field Nope in type ImageRow'),
        ("{{.Tag | upper}} {{.Repository | truncate 5}}", "T1 ",
         'template: images:1:53: executing "images" at <5>: expected string; found 5'),
        ("{{$.Tag}}", "", 'template: images:1:14: executing "images" at <$.Tag>: can\'t evaluate field Tag in type []ImageRow'),
        ("{{.Repository}} {{.Bad", "", "template: images:1: bad character U+007B '{'"),
        ("table {{.Tag | upper}} {{ .Repository | truncate 3 }}", "TAG\t",
         'template: images:1:54: executing "images" at <3>: expected string; found 3'),
    ],
)
def test_render_list_podman_golden_errors(fmt: str, printed: str, error: str) -> None:
    with pytest.raises(TemplateError) as e:
        render_list(fmt, ROWS, headers=HEADERS, name="images")
    assert (e.value.output, str(e.value)) == (printed, error)


def test_render_list_json_is_an_indented_array() -> None:
    out = render_list("json", ROWS[:1])
    assert out.startswith('[\n    {\n        "Repository": "localhost/averyveryverylongname",\n')
    assert out.endswith('        "Labels": {}\n    }\n]\n')
    assert render_list(" json ", ROWS[:1], json_indent=5).startswith('[\n     {\n          "Repository"')


def test_render_list_noheading_and_nested_headers() -> None:
    fmt = "table {{.Tag}}\\t{{.Names}}"
    assert render_list(fmt, ROWS[:1], noheading=True) == "t1          [localhost/averyveryverylongname:t1 localhost/x:latest]\n"
    assert render_list("table {{.State.Status}}\\t{{len .Names}}", [], headers={"Status": "ctr status"}) == "CTR STATUS  5\n"


def test_render_list_header_of_a_ranged_field() -> None:
    assert render_list("table {{range .Names}}{{.}},{{end}}", []) == "NAMES,\n"


def test_render_one_runs_once_without_range() -> None:
    assert render_one("{{.Tag}}", ROWS[0]) == "t1\n"
    assert render_one("{{range .Names}}{{.}} {{end}}", ROWS[0]) == " ".join(NAMES) + " \n"
    assert render_one("table {{.Tag}}\\t{{.Containers}}", ROWS[0]) == "TAG         CONTAINERS\nt1          0\n"
    assert render_one("json", {"a": 1}, json_indent=2) == '{\n  "a": 1\n}\n'
    assert render_one("{{json .}}", {"a": [1]}) == '{"a":[1]}\n'
