"""Templates are hostile input: sandboxed, strict, and analysed for the fields they read."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from runner.specs.templates import TemplateProblem, analyse, render


def test_render_uses_item_and_sample() -> None:
    assert render("{{ item.a }}-{{ sample.output_text | upper }}", item={"a": 1}, sample={"output_text": "x"}) == "1-X"


def test_missing_field_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UndefinedError):
        render("{{ item.nope }}", item={"a": 1})


@pytest.mark.parametrize(
    "source",
    [
        "{{ item.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ item.update.__self__ }}",
    ],
)
def test_sandbox_blocks_escapes(source: str) -> None:
    with pytest.raises((SecurityError, UndefinedError)):
        render(source, item={"a": 1})


def test_analyse_reports_variables_and_fields() -> None:
    use = analyse("{% set x = 1 %}{{ item.message }} {{ item['label'] }} {{ sample.output_json.k }} {{ x }}")
    assert use.variables == frozenset({"item", "sample"})
    assert use.fields == {"item": frozenset({"message", "label"}), "sample": frozenset({"output_json"})}


def test_analyse_syntax_error_has_a_line() -> None:
    with pytest.raises(TemplateProblem) as info:
        analyse("line one\n{{ item.x }\n")
    assert (info.value.line, info.value.message) == (2, "template syntax error: unexpected '}'")
