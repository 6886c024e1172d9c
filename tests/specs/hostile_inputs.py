"""The hostile-input corpus: each case breaks a copy of tests/fixtures/mini in one hostile way.

A case is `(id, edits, where, fragment)`: `edits` are `(file, old, new)` replacements (old None: write `new`
as the whole file, bytes or text), `where` is the `file:line` (or `file:line:col`) the first error must name,
and `fragment` a part of its message.
"""

from __future__ import annotations

import itertools

T, D, E, G = "specs/triage.yaml", "specs/tickets.jsonl", "specs/evil.yaml", "specs/grader.py"
HEAD = "apiVersion: flywheel/v1\nkind: Model\nmetadata:\n  name: evil\nspec:\n"
PROMPT = '      content: "Ticket: {{ item.message }}"\n'
FORMULA = "  calculate_output: 0.5 * exact + 0.5 * fuzzy\n"
SOURCE = '        return 1.0 if len(sample["output_text"]) < 20 else 0.0\n'
LINE3 = '{"id": "t3", "message": "tracking number please", "label": "order_status", "split": "test"}\n'
GOOD = '{"id": "x%d", "message": "m", "label": "other", "split": "test"}\n'


def laughs(levels: int, width: int) -> str:
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"{n}: &{n} [" + ", ".join([f"*{p}"] * width) + "]" for p, n in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def laughs_map(levels: int, width: int) -> str:
    lines = ["l0: &l0 {" + ", ".join(f"k{j}: lol" for j in range(width)) + "}"]
    lines += [f"l{i}: &l{i} {{" + ", ".join(f"k{j}: *l{i - 1}" for j in range(width)) + "}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def yaml_file(body: str | bytes) -> list[tuple[str, str | None, str | bytes]]:
    return [(E, None, body)]


def prompt(template: str) -> list[tuple[str, str | None, str | bytes]]:
    return [(T, PROMPT, f"      content: {template!r}\n".replace("\\\\", "\\"))]


def formula(text: str) -> list[tuple[str, str | None, str | bytes]]:
    return [(T, FORMULA, f"  calculate_output: {text!r}\n")]


def source(line: str) -> list[tuple[str, str | None, str | bytes]]:
    return [(T, SOURCE, f"        {line}\n        return 1.0\n")]


def dataset_line(line: str) -> list[tuple[str, str | None, str | bytes]]:
    return [(D, LINE3, line)]


def grader_file(body: str | bytes) -> list[tuple[str, str | None, str | bytes]]:
    return [(G, None, body), (T, "  source: |\n    def grade(sample, item):\n" + SOURCE, "  file: grader.py\n")]


P_LINE, F_LINE, S_LINE = "specs/triage.yaml:23:", "specs/triage.yaml:65:", "specs/triage.yaml:73:"
DEEP = 20000

CASES: list[tuple[str, list[tuple[str, str | None, str | bytes]], str, str]] = [
    # YAML: alias bombs, recursion, nesting, numbers, tags, encodings, sizes
    ("billion-laughs", yaml_file(laughs(9, 9)), f"{E}:6:", "expands to more than 100000 values"),
    ("laughs-wide", yaml_file(laughs(4, 100)), f"{E}:3:", "expands to more than 100000 values"),
    (
        "laughs-in-spec",
        yaml_file(HEAD + "  metadata_bomb: " + "x\n" + laughs(9, 9)),
        f"{E}:12:",
        "expands to more than",
    ),
    ("laughs-mappings", yaml_file(laughs_map(7, 8)), f"{E}:6:", "expands to more than 100000 values"),
    (
        "laughs-merge-keys",
        yaml_file(
            "a: &a {x: 1}\n"
            + "".join(
                f"m{i}: &m{i} {{<<: *{'a' if i == 0 else f'm{i - 1}'}, "
                + ", ".join(f"k{j}: *{'a' if i == 0 else f'm{i - 1}'}" for j in range(9))
                + "}\n"
                for i in range(8)
            )
        ),
        f"{E}:",
        "expands to more than 100000 values",
    ),
    ("recursive-sequence", yaml_file("a: &a [1, *a]\n"), f"{E}:1:4", "recursive alias"),
    ("recursive-mapping", yaml_file("a: &a {b: *a}\n"), f"{E}:1:4", "recursive alias"),
    ("recursive-mutual", yaml_file("a: &a [&b [*a]]\n"), f"{E}:1:", "recursive alias"),
    ("recursive-in-spec", yaml_file(HEAD + "  x: &x {y: *x}\n"), f"{E}:6:", "recursive alias"),
    ("flow-nesting-20000", yaml_file("x: " + "[" * DEEP + "]" * DEEP + "\n"), f"{E}:1:", "nested more than 64 levels"),
    (
        "flow-mapping-nesting",
        yaml_file("x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"),
        f"{E}:1:",
        "nested more than 64 levels",
    ),
    (
        "block-nesting-1000",
        yaml_file("".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v\n"),
        f"{E}:65:",
        "nested more than 64 levels",
    ),
    (
        "block-sequence-nesting",
        yaml_file("x:\n" + "".join("  " * i + "-\n" for i in range(1, 200)) + "  " * 200 + "- 1\n"),
        f"{E}:65:",
        "nested more than 64 levels",
    ),
    (
        "nesting-in-item-schema",
        [(T, "    type: object\n", "    type: object\n    x: " + "[" * 100 + "]" * 100 + "\n")],
        "specs/triage.yaml:10:",
        "nested more than 64 levels",
    ),
    ("int-5000-digits", yaml_file(HEAD + "  x: " + "7" * 5000 + "\n"), f"{E}:6:6", "integer with 5000 digits"),
    ("int-negative", yaml_file("x: -" + "9" * 400 + "\n"), f"{E}:1:4", "integer with 401 digits"),
    ("int-hex", yaml_file("x: 0x" + "f" * 400 + "\n"), f"{E}:1:4", "integer with 402 digits"),
    (
        "int-in-model-max-tokens",
        [("specs/models.yaml", "    temperature: 0\n", "    temperature: 0\n    max_tokens: " + "1" * 4500 + "\n")],
        "specs/models.yaml:10:17",
        "integer with 4500 digits",
    ),
    ("bad-timestamp", yaml_file("x: 2020-13-45\n"), f"{E}:1:", "cannot be read: month must be in 1..12"),
    (
        "python-object-tag",
        yaml_file("x: !!python/object/apply:os.system ['touch owned']\n"),
        f"{E}:1:4",
        "could not determine a constructor",
    ),
    ("python-name-tag", yaml_file("x: !!python/name:os.system\n"), f"{E}:1:4", "could not determine a constructor"),
    ("str-tag-on-mapping", yaml_file("x: !!str {a: 1}\n"), f"{E}:1:4", "expected a scalar node"),
    ("undefined-alias", yaml_file("x: *nowhere\n"), f"{E}:1:4", "found undefined alias"),
    (
        "merge-of-scalar",
        yaml_file("a: &a 1\nb: {<<: *a}\n"),
        f"{E}:1:4",
        "expected a mapping or list of mappings for merging",
    ),
    ("non-utf8-yaml", yaml_file(b"a: 1\nb: 2\nc: caf\xe9\n"), f"{E}:3:7", "not UTF-8 text (byte 0xe9"),
    ("utf16-yaml", yaml_file("a: 1\n".encode("utf-16")), f"{E}:1:1", "not UTF-8 text (byte 0xff"),
    ("nul-in-yaml", yaml_file("a: 1\nb: \x00\n"), f"{E}:2:4", "special characters are not allowed"),
    ("tab-indentation", yaml_file("a:\n\tb: 1\n"), f"{E}:2:", "YAML syntax error"),
    ("unclosed-quote", yaml_file('a: "never closed\nb: 2\n'), f"{E}:3:", "YAML syntax error"),
    (
        "spec-3-mib",
        yaml_file(("# " + "x" * 1000 + "\n") * 3000),
        f"{E}:{2 * 1024 * 1024 // 1003 + 1}:",
        "at most 2 MiB",
    ),
    ("spec-50-mb-line", yaml_file("a: 1\nb: 2\nc: " + "x" * 50_000_000 + "\n"), f"{E}:3:", "at most 2 MiB"),
    (
        "spec-many-values",
        yaml_file("".join(f"k{i}: [1, 2]\n" for i in range(40000))),
        f"{E}:1:1",
        "more than 100000 values",
    ),
    # prompt templates: huge constants, loops, nesting
    ("template-mul-3e9", prompt("{{ 'x' * 3000000000 }}"), P_LINE, "number 3000000000 is too large"),
    (
        "template-mul-folded",
        prompt("{{ 'x' * (1000 * 1000 * 3000) }}"),
        P_LINE,
        "number 3000000000 is too large",
    ),
    ("template-list-mul", prompt("{{ [0] * 1000000000 }}"), P_LINE, "number 1000000000 is too large"),
    ("template-pow", prompt("{{ 10 ** 100000 }}"), P_LINE, "10 ** 100000 is too large"),
    ("template-pow-tower", prompt("{{ 9 ** 9 ** 9 }}"), P_LINE, "too large"),
    ("template-center", prompt("{{ 'x'|center(1000000000) }}"), P_LINE, "number 1000000000 is too large"),
    ("template-indent", prompt("{{ item.message|indent(999999999) }}"), P_LINE, "number 999999999 is too large"),
    ("template-wordwrap", prompt("{{ item.message|wordwrap(2000000000) }}"), P_LINE, "number 2000000000 is too large"),
    ("template-ljust", prompt("{{ 'x'.ljust(2000000000) }}"), P_LINE, "number 2000000000 is too large"),
    ("template-printf-width", prompt("{{ '%0999999999d' % 1 }}"), P_LINE, "number 999999999 is too large"),
    ("template-format-width", prompt("{{ '{:>999999999}'.format(1) }}"), P_LINE, "number 999999999 is too large"),
    ("template-format-filter", prompt("{{ '%0999999999d'|format(1) }}"), P_LINE, "number 999999999 is too large"),
    (
        "template-nested-loop-1e10",
        prompt("{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"),
        P_LINE,
        "these loops would run 10000000000 times",
    ),
    (
        "template-triple-loop",
        prompt(
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}"
        ),
        P_LINE,
        "would run 1000000000 times",
    ),
    ("template-range-huge", prompt("{{ range(10000000000)|list }}"), P_LINE, "number 10000000000 is too large"),
    ("template-lipsum-huge", prompt("{{ lipsum(n=1000000000) }}"), P_LINE, "number 1000000000 is too large"),
    ("template-lipsum", prompt("{{ lipsum(5) }}"), P_LINE, "unknown variable 'lipsum'"),
    ("template-deep-parens", prompt("{{ " + "(" * DEEP + "1" + ")" * DEEP + " }}"), P_LINE, "nested too deeply"),
    ("template-deep-ifs", prompt("{% if 1 %}" * 3000 + "x" + "{% endif %}" * 3000), P_LINE, "nested too deeply"),
    ("template-deep-filters", prompt("{{ 1" + "|string" * 5000 + " }}"), P_LINE, "nested too deeply"),
    (
        "grader-template-mul",
        [
            (
                T,
                '  input: "{{ sample.output_text }}"\n  reference: "{{ item.label }}"\n  operation: eq\n',
                '  input: "{{ sample.output_text * 3000000000 }}"\n  reference: "{{ item.label }}"\n  operation: eq\n',
            )
        ],
        "specs/triage.yaml:32:",
        "number 3000000000 is too large",
    ),
    (
        "grader-template-loop",
        [
            (
                T,
                '  reference: "{{ item.label }}"\n  operation: eq\n',
                '  reference: "{% for a in range(100000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"\n  operation: eq\n',
            )
        ],
        "specs/triage.yaml:33:",
        "would run 100000000 times",
    ),
    (
        "finetune-template-mul",
        [(T, '    completion: "{{ item.label }}"\n', "    completion: \"{{ 'ab' * 2000000000 }}\"\n")],
        "specs/triage.yaml:107:",
        "number 2000000000 is too large",
    ),
    # multi formulas
    ("formula-unary-chain", formula("-" * 1990 + "exact"), F_LINE, "nested more than 32 levels"),
    ("formula-deep-sums", formula("(" * 200 + "exact" + " + 1)" * 200), F_LINE, "nested more than 32 levels"),
    ("formula-deep-calls", formula("max(" * 40 + "exact" + ", 1)" * 40), F_LINE, "nested more than 32 levels"),
    ("formula-inf-constant", formula("exact * 1e400"), F_LINE, "constant too large"),
    ("formula-long-int", formula("exact * " + "9" * 40), F_LINE, "constant with more than 30 digits"),
    ("formula-exp-overflow", formula("exp(exact * 1000)"), F_LINE, "math range error (with every score at 1)"),
    ("formula-mul-overflow", formula("10.0 ** 300 * 10.0 ** 300 * exact"), F_LINE, "with every score at 1"),
    ("formula-big-exponent", formula("exact ** 100000"), F_LINE, "exponent too large"),
    ("formula-import", formula("__import__('os').system('id')"), F_LINE, "only these functions may be called"),
    ("formula-lambda", formula("(lambda: 1)()"), F_LINE, "only these functions may be called"),
    ("formula-attribute", formula("exact.real"), F_LINE, "Attribute is not allowed"),
    ("formula-too-long", formula("exact + " * 400 + "exact"), F_LINE, "longer than 2000 characters"),
    # python grader sources
    ("python-unary-chain", source("x = " + "-" * 100000 + "1"), S_LINE, "nested too deeply to parse"),
    (
        "python-deep-parens",
        source("x = " + "(" * 300 + "1" + ")" * 300),
        "specs/triage.yaml:75:9",
        "too many nested parentheses",
    ),
    ("python-nul", [(T, SOURCE, '        return 1.0\n    x = "\x00"\n')], "specs/triage.yaml:", "YAML"),
    (
        "python-file-not-utf8",
        grader_file(b"def grade(sample, item):\n    return 1.0  # caf\xe9\n"),
        f"{G}:2:",
        "not UTF-8 text (byte 0xe9",
    ),
    (
        "python-file-3-mib",
        grader_file("def grade(sample, item):\n    return 1.0\n" + "# padding\n" * 300000),
        f"{G}:{(2 * 1024 * 1024 - 40) // 10 + 3}:",
        "at most 2 MiB",
    ),
    (
        "python-file-unary-chain",
        grader_file("def grade(sample, item):\n    return " + "-" * 100000 + "1\n"),
        "specs/triage.yaml:",
        "nested too deeply to parse",
    ),
    # JSONL datasets
    (
        "jsonl-nan",
        dataset_line('{"id": "t3", "message": NaN, "label": "other", "split": "test"}\n'),
        f"{D}:3:",
        "NaN is not valid JSON",
    ),
    (
        "jsonl-infinity",
        dataset_line('{"id": "t3", "message": "m", "label": "other", "split": "test", "w": Infinity}\n'),
        f"{D}:3:",
        "Infinity is not valid JSON",
    ),
    (
        "jsonl-minus-infinity",
        dataset_line('{"id": "t3", "message": "m", "label": "other", "split": "test", "w": -Infinity}\n'),
        f"{D}:3:",
        "-Infinity is not valid JSON",
    ),
    (
        "jsonl-float-overflow",
        dataset_line('{"id": "t3", "message": "m", "label": "other", "split": "test", "w": 1e400}\n'),
        f"{D}:3:",
        "1e400 is not a finite number",
    ),
    (
        "jsonl-int-5000-digits",
        dataset_line('{"id": ' + "1" * 5000 + ', "message": "m", "label": "other", "split": "test"}\n'),
        f"{D}:3:8",
        "integer with 5000 digits",
    ),
    (
        "jsonl-int-101-digits",
        dataset_line('{"id": "t3", "message": "m", "label": "other", "split": "test", "n": -' + "2" * 101 + "}\n"),
        f"{D}:3:",
        "integer with 101 digits",
    ),
    (
        "jsonl-nesting-100000",
        dataset_line('{"id": "t3", "x": ' + "[" * 100000 + "]" * 100000 + "}\n"),
        f"{D}:3:",
        "nested more than 64 levels",
    ),
    (
        "jsonl-nesting-100",
        dataset_line('{"id": "t3", "x": ' + '{"a": ' * 100 + "1" + "}" * 100 + "}\n"),
        f"{D}:3:",
        "nested more than 64 levels",
    ),
    ("jsonl-non-utf8", [(D, '"love the shop"', b'"love the sh\xe9p"')], f"{D}:2:", "not UTF-8 text (byte 0xe9)"),
    (
        "jsonl-50-mb-line",
        dataset_line('{"id": "t3", "message": "' + "x" * 50_000_000 + '", "label": "other", "split": "test"}\n'),
        f"{D}:3:",
        "line longer than 1 MiB",
    ),
    (
        "jsonl-2-mib-line",
        dataset_line('{"id": "t3", "message": "' + "y" * 2_100_000 + '"}\n'),
        f"{D}:3:",
        "line longer than 1 MiB",
    ),
    (
        "jsonl-lone-surrogate",
        dataset_line('{"id": "t3", "message": "\\ud800", "label": "other", "split": "test"}\n'),
        f"{D}:3:",
        "not valid Unicode",
    ),
    ("jsonl-bom", [(D, '{"id": "t1"', '\ufeff{"id": "t1"')], f"{D}:1:1", "invalid JSON"),
    (
        "jsonl-nul",
        dataset_line('{"id": "t3", "message": "a\x00b", "label": "other", "split": "test"}\n'),
        f"{D}:3:",
        "invalid JSON",
    ),
    ("jsonl-many-bad-lines", [(D, LINE3, "{bad\n" * 5000)], f"{D}:3:", "invalid JSON"),
]
