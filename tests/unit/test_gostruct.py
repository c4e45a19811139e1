"""``GoStruct``: inspect documents behave as Podman's structs in templates (a missing field is an
error, exit 125) while their maps (``Labels``) keep Go's ``<no value>``; JSON output is unchanged."""

from __future__ import annotations

import pytest

from rpod.format import render_list
from rpod.format.gofmt import GoStruct, go_json, go_structs
from rpod.format.gotemplate import TemplateError

DOC = {"Id": "abc", "State": {"Status": "running"}, "Config": {"Labels": {"a": "1"}}}


def docs() -> list[GoStruct]:
    return [go_structs(DOC, ("interface {}", frozenset({"Id", "Podmanonly"})),
                       {"State": ("*define.InspectContainerState", frozenset()), "Config": ("*define.Cfg", frozenset())})]


def test_a_field_rpod_leaves_out_is_no_value() -> None:
    assert render_list("{{.Podmanonly}}", docs(), name="inspect") == "<no value>\n"


def test_known_fields_and_map_keys_render() -> None:
    assert render_list("{{.Id}} {{.State.Status}} {{.Config.Labels.a}} {{.Config.Labels.zz}}", docs(),
                       name="inspect") == "abc running 1 <no value>\n"


@pytest.mark.parametrize(("fmt", "message"), [
    ("{{.Nope}}", "template: inspect:1:13: executing \"inspect\" at <.Nope>: "  # the column Podman gives
                  "can't evaluate field Nope in type interface {}"),
    ("{{.State.Nope}}", "can't evaluate field Nope in type *define.InspectContainerState"),
])
def test_a_field_the_struct_lacks_is_an_error(fmt: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        render_list(fmt, docs(), name="inspect")
    assert message in str(e.value)
    assert e.value.exit_code == 125


def test_json_is_the_same_as_for_plain_dicts() -> None:
    assert go_json(docs(), indent=4) == go_json([DOC], indent=4)
