"""Templates are hostile input: sandboxed, strict, and analysed for the fields they read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2 import TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from runner.cli import main
from runner.specs import templates
from runner.specs.templates import TemplateProblem, analyse, render
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture


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


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'x' * item.n }}", "a value of 3000000000 items would be built (the limit is 4000000)"),
        ("{{ [0] * item.n }}", "a value of 3000000000 items would be built (the limit is 4000000)"),
        ("{{ item.n ** item.n }}", "3000000000 ** 3000000000 is too large for a template"),
        ("{{ 'x'|center(item.n) }}", "number 3000000000 is too large for a template (the limit is 1000000)"),
        ("{{ 'x'.rjust(item.n) }}", "number 3000000000 is too large for a template (the limit is 1000000)"),
        ("{{ item.fmt % 1 }}", "number 999999999 is too large for a template (the limit is 1000000)"),
        ("{{ item.fmt|format(1) }}", "number 999999999 is too large for a template (the limit is 1000000)"),
        ("{{ item.pyfmt.format(1) }}", "number 999999999 is too large for a template (the limit is 1000000)"),
        ("{{ range(item.n)|list }}", "number 3000000000 is too large for a template (the limit is 1000000)"),
        (
            "{% for a in range(item.k) %}{% for b in range(item.k) %}{% endfor %}{% endfor %}",
            "rendering took longer than 0.2 s",
        ),
        ("{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}", None),
        (
            "{% for i in range(item.k) %}{{ 'x' * 100000 }}{% endfor %}",
            "the rendered text is longer than 4000000 characters",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "the template recursed too deeply"),
        ("{{ 1 / item.zero }}", "ZeroDivisionError: division by zero"),
        ("{{ item.n + 'a' }}", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"),
    ],
)
def test_a_template_breaking_a_limit_fails_with_a_template_error(
    monkeypatch: pytest.MonkeyPatch, source: str, message: str | None
) -> None:
    monkeypatch.setattr(templates, "RENDER_TIMEOUT_S", 0.2)
    item = {"n": 3_000_000_000, "k": 100_000, "zero": 0, "fmt": "%0999999999d", "pyfmt": "{:>999999999}"}
    with pytest.raises(TemplateError) as info:
        render(source, item=item)
    if message is not None:
        assert info.value.message == message
    else:  # the doubling loop stops on memory or on time, whichever the machine reaches first
        assert info.value.message in ("rendering used more than 256 MB of memory", "rendering took longer than 0.2 s")


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            "a\n{{ 'x' * 3000000000 }}",
            2,
            "template: number 3000000000 is too large for a template (the limit is 1000000)",
        ),
        ("{{ 'abcdef' * 900000 }}", 1, "template: a value of 5400000 items would be built (the limit is 4000000)"),
        ("{{ 2 ** 10000 }}", 1, "template: 2 ** 10000 is too large for a template"),
        (
            "\n\n{% for a in range(10000) %}\n{% for b in range(10000) %}{% endfor %}{% endfor %}",
            4,
            "template: these loops would run 100000000 times (the limit is 10000000)",
        ),
        ("{{ x|center(5000000) }}", 1, "template: number 5000000 is too large for a template (the limit is 1000000)"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", 1, "template is nested too deeply; nest it less"),
    ],
)
def test_analyse_refuses_what_it_can_see(source: str, line: int, message: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        analyse(source)
    assert (info.value.line, info.value.message) == (line, message)


def test_a_failing_template_fails_its_item_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(responder=lambda body: str(body["messages"][-1]["content"])) as fake:
        repo = copy_fixture("engine", tmp_path / "repo", fake.base_url, "specs/eval.yaml")
        monkeypatch.chdir(repo)
        spec = repo / "specs/eval.yaml"
        spec.write_text(spec.read_text().replace('content: "{{ item.word }}"', 'content: "{{ item.word * item.n }}"'))
        words = repo / "specs/words.jsonl"
        lines = words.read_text().splitlines()
        lines = [line[:-1] + (', "n": 3000000000}' if i == 1 else ', "n": 1}') for i, line in enumerate(lines)]
        words.write_text("\n".join(lines) + "\n")
        assert main(["run", "words", "--limit", "3"]) == 0
    result = json.loads((repo / ".flywheel/results/words/fake.json").read_text())
    errors = [i["error"] for i in result["items"]]
    assert errors[0] is None and errors[2] is None
    assert errors[1] == "prompt template: a value of 18000000000 items would be built (the limit is 4000000)"
