"""The malformed-spec table: each case breaks the mini fixture in one way and pins the exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main

M, T, D = "specs/models.yaml", "specs/triage.yaml", "specs/tickets.jsonl"

CASES = [
    pytest.param(
        M,
        "  name: small\n",
        "  name: [small\n",
        [
            "specs/models.yaml:5:5: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence that starts at line 4)",
        ],
        id="yaml-syntax",
    ),
    pytest.param(
        M,
        "apiVersion: flywheel/v1\nkind: Model\nmetadata:\n  name: small\n",
        "kind: Model\nmetadata:\n  name: small\n",
        [
            "specs/models.yaml:1:1: Model/small: missing apiVersion; add `apiVersion: flywheel/v1`",
        ],
        id="missing-apiversion",
    ),
    pytest.param(
        M,
        "apiVersion: flywheel/v1\nkind: Model\nmetadata:\n  name: small\n",
        "apiVersion: flywheel/v2\nkind: Model\nmetadata:\n  name: small\n",
        [
            "specs/models.yaml:1:13: Model/small -> apiVersion: unsupported apiVersion 'flywheel/v2'; this Flywheel reads flywheel/v1: upgrade Flywheel or set `apiVersion: flywheel/v1`",
        ],
        id="wrong-apiversion",
    ),
    pytest.param(
        T,
        "kind: Eval\n",
        "kind: Evaluation\n",
        [
            "specs/triage.yaml:78:7: Evaluation/triage -> kind: unknown kind 'Evaluation' (kinds: Model, Prompt, Dataset, Grader, Eval, FineTune)",
        ],
        id="unknown-kind",
    ),
    pytest.param(
        T,
        "kind: Eval\n",
        "",
        [
            "specs/triage.yaml:77:1: document/triage: missing kind; add `kind:` (one of Model, Prompt, Dataset, Grader, Eval, FineTune)",
        ],
        id="missing-kind",
    ),
    pytest.param(
        M,
        "    output_per_1m: 0.6\n",
        "    output_per_1m: 0.6\n---\n- just\n- a list\n",
        [
            "specs/models.yaml:25:1: document: a spec document must be a mapping with apiVersion, kind, metadata and spec",
        ],
        id="not-a-mapping",
    ),
    pytest.param(
        M,
        "  name: small\n",
        "  name: small\n  lables: {team: support}\n",
        [
            "specs/models.yaml:5:3: Model/small -> metadata -> lables: unknown key 'lables'; did you mean 'labels'?",
        ],
        id="unknown-metadata-key",
    ),
    pytest.param(
        M,
        "    temperature: 0\n",
        "    temprature: 0\n",
        [
            "specs/models.yaml:9:5: Model/small -> spec -> parameters -> temprature: unknown key 'temprature'; did you mean 'temperature'?",
        ],
        id="unknown-spec-key",
    ),
    pytest.param(
        M,
        "    temperature: 0\n",
        "    temperature: hot\n",
        [
            "specs/models.yaml:9:18: Model/small -> spec -> parameters -> temperature: input should be a valid number, unable to parse string as a number, got 'hot'",
        ],
        id="wrong-type",
    ),
    pytest.param(
        M,
        "    temperature: 0\n",
        "    temperature: 3\n",
        [
            "specs/models.yaml:9:18: Model/small -> spec -> parameters -> temperature: input should be less than or equal to 2, got 3",
        ],
        id="out-of-range",
    ),
    pytest.param(
        M,
        "  name: small\n",
        "  name: Small Model\n",
        [
            "specs/models.yaml:4:9: Model/Small Model -> metadata -> name: 'Small Model' is not a valid name; use lowercase letters, digits, '.', '_' and '-' (at most 64 characters)",
            "specs/triage.yaml:85:12: Eval/triage -> spec -> models[0]: unknown Model 'small'; defined: Small Model, hosted",
            "specs/triage.yaml:102:15: FineTune/triage-sft -> spec -> base_model: unknown Model 'small'; defined: Small Model, hosted",
        ],
        id="invalid-name",
    ),
    pytest.param(
        M,
        "  model: gpt-4o-mini\n",
        "",
        [
            "specs/models.yaml:18:3: Model/hosted -> spec -> model: missing required field 'model'; add `model:`",
        ],
        id="missing-required",
    ),
    pytest.param(
        M,
        "  provider: openai\n",
        "  provider: openai_compatible\n",
        [
            "specs/models.yaml:18:3: Model/hosted -> spec: provider 'openai_compatible' needs `base_url`; add e.g. base_url: http://host:8000/v1",
        ],
        id="compatible-needs-base-url",
    ),
    pytest.param(
        M,
        "  api_key_env: OPENAI_API_KEY\n",
        "  api_key_env: sk-proj-abc123\n",
        [
            "specs/models.yaml:20:16: Model/hosted -> spec -> api_key_env: must name an environment variable (like OPENAI_API_KEY), never hold the key itself",
        ],
        id="key-in-spec",
    ),
    pytest.param(
        M,
        "  name: hosted\n",
        "  name: small\n",
        [
            "specs/models.yaml:16:9: Model/small -> metadata -> name: duplicate Model name 'small' (first defined at specs/models.yaml:1); rename one",
        ],
        id="duplicate-name",
    ),
    pytest.param(
        M,
        "  provider: local\n",
        "  provider: local\n  provider: openai\n",
        [
            "specs/models.yaml:7:3: Model/small -> spec -> provider: duplicate key 'provider' (first at line 6); remove one",
        ],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        T,
        "  type: python\n",
        "  type: pyhton\n",
        [
            "specs/triage.yaml:72:9: Grader/length -> spec -> type: unknown type 'pyhton'; did you mean 'python'? (expected one of string_check, text_similarity, score_model, label_model, python, multi, json_schema, tool_call, pairwise)",
        ],
        id="unknown-grader-type",
    ),
    pytest.param(
        T,
        "  operation: eq\n---\napiVersion: flywheel/v1\nkind: Grader\nmetadata:\n  name: fuzzy",
        "  operation: equal\n---\napiVersion: flywheel/v1\nkind: Grader\nmetadata:\n  name: fuzzy",
        [
            "specs/triage.yaml:34:14: Grader/exact -> spec -> operation: 'equal' is not one of eq, ne, like, ilike",
        ],
        id="unknown-operation",
    ),
    pytest.param(
        T,
        "  evaluation_metric: fuzzy_match\n",
        "  evaluation_metric: rouge_x\n",
        [
            "specs/triage.yaml:44:22: Grader/fuzzy -> spec -> evaluation_metric: 'rouge_x' is not one of fuzzy_match, bleu, gleu, meteor, cosine, rouge_1, rouge_2, rouge_3, rouge_4, rouge_5, rouge_l; did you mean 'rouge_l'?",
        ],
        id="unknown-metric",
    ),
    pytest.param(
        T,
        "  evaluation_metric: fuzzy_match\n  pass_threshold: 0.8\n",
        "  pass_threshold: 0.8\n",
        [
            "specs/triage.yaml:41:3: Grader/fuzzy -> spec -> evaluation_metric: missing required field 'evaluation_metric'; add `evaluation_metric:`",
        ],
        id="missing-evaluation-metric",
    ),
    pytest.param(
        T,
        "      grader: exact\n",
        "      grader: exatc\n",
        [
            "specs/triage.yaml:88:15: Eval/triage -> spec -> metrics -> accuracy -> grader: unknown Grader 'exatc'; did you mean 'exact'?",
        ],
        id="missing-grader-ref",
    ),
    pytest.param(
        T,
        "  dataset: tickets\n  split: test\n",
        "  dataset: ticket\n  split: test\n",
        [
            "specs/triage.yaml:82:12: Eval/triage -> spec -> dataset: unknown Dataset 'ticket'; did you mean 'tickets'?",
        ],
        id="missing-dataset-ref",
    ),
    pytest.param(
        T,
        "  models: [small@champion]\n",
        "  models: [small@champ]\n",
        [
            "specs/triage.yaml:85:12: Eval/triage -> spec -> models[0]: Model 'small' has no alias 'champ'; did you mean 'champion'?",
        ],
        id="missing-alias",
    ),
    pytest.param(
        T,
        "  split: test\n",
        "  split: tset\n",
        [
            "specs/triage.yaml:83:10: Eval/triage -> spec -> split: dataset 'tickets' has no split 'tset'; did you mean 'test'? (splits: test, train)",
        ],
        id="unknown-split",
    ),
    pytest.param(
        D,
        '"label": "other", "split": "test"}\n{"id": "t5"',
        '"label": "other" "split": "test"}\n{"id": "t5"',
        [
            "specs/tickets.jsonl:4:61: Dataset/tickets: invalid JSON: Expecting ',' delimiter; each line must be one JSON object",
        ],
        id="bad-jsonl-line",
    ),
    pytest.param(
        D,
        '{"id": "t6", "message": "nice weather", "label": "other", "split": "train"}\n',
        '["t6", "nice weather"]\n',
        [
            "specs/tickets.jsonl:6:1: Dataset/tickets: expected a JSON object, got list; each line must be one JSON object",
        ],
        id="jsonl-not-object",
    ),
    pytest.param(
        D,
        '{"id": "t6",',
        '{"id": "t1",',
        [
            "specs/tickets.jsonl:6:1: Dataset/tickets: duplicate id 't1' (first at specs/tickets.jsonl:1); ids must be unique",
        ],
        id="duplicate-item-id",
    ),
    pytest.param(
        D,
        '"label": "other", "split": "train"}\n{"id": "t3"',
        '"label": "refund", "split": "train"}\n{"id": "t3"',
        [
            "specs/tickets.jsonl:2:1: Dataset/tickets: item does not match item_schema at 'label': 'refund' is not one of ['order_status', 'other']",
        ],
        id="item-schema-violation",
    ),
    pytest.param(
        D,
        '"nice weather", "label": "other", "split": "train"}',
        '"nice weather", "label": "other"}',
        [
            "specs/tickets.jsonl:6:1: Dataset/tickets: missing split field 'split'; set it to a split name such as \"test\"",
        ],
        id="missing-split-field",
    ),
    pytest.param(
        T,
        "  path: tickets.jsonl\n",
        "  path: ticket.jsonl\n",
        [
            "specs/triage.yaml:6:9: Dataset/tickets -> spec -> path: file 'ticket.jsonl' not found (looked in specs/)",
        ],
        id="dataset-file-missing",
    ),
    pytest.param(
        T,
        "  path: tickets.jsonl\n",
        "  path: ../../../../etc/passwd\n",
        [
            "specs/triage.yaml:6:9: Dataset/tickets -> spec -> path: '../../../../etc/passwd' is outside the project root; keep datasets in the repository",
        ],
        id="dataset-outside-root",
    ),
    pytest.param(
        T,
        '      content: "Ticket: {{ item.message }}"\n',
        '      content: "Ticket: {{ item.message }"\n',
        [
            "specs/triage.yaml:23:16: Prompt/triage -> spec -> messages[1] -> content: template syntax error: unexpected '}'",
        ],
        id="template-syntax",
    ),
    pytest.param(
        T,
        "      content: Answer with one label.\n",
        "      content: |\n        Answer with one label.\n        {% if item.label %}\n",
        [
            "specs/triage.yaml:23:9: Prompt/triage -> spec -> messages[0] -> content: template syntax error: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
        ],
        id="template-block-syntax",
    ),
    pytest.param(
        T,
        '      content: "Ticket: {{ item.message }}"\n',
        '      content: "Ticket: {{ item.mesage }}"\n',
        [
            "specs/triage.yaml:23:16: Prompt/triage -> spec -> messages[1] -> content: template uses item.mesage but items of dataset 'tickets' have no field 'mesage'; did you mean 'message'?",
        ],
        id="template-unknown-field",
    ),
    pytest.param(
        T,
        "      value: {lower: 0.5}\n",
        "      value: 0.3\n",
        [
            "specs/triage.yaml:89:14: Eval/triage -> spec -> metrics -> accuracy -> value: expected a mapping with `lower`, `upper`, got 0.3; for a floor write `value: {lower: 0.3}` (`{upper: 0.3}` for a ceiling)",
        ],
        id="bounds-as-a-number",
    ),
    pytest.param(
        T,
        '  type: text_similarity\n  input: "{{ sample.output_text }}"\n  reference: "{{ item.label }}"\n  evaluation_metric: fuzzy_match\n  pass_threshold: 0.8\n',
        '  type: label_model\n  model: hosted\n  input:\n    - role: user\n      content: "Right? {{ sample.output_text }}"\n  labels: [right, wrong]\n  passing_labels: [right, maybe]\n',
        [
            "specs/triage.yaml:47:19: Grader/fuzzy -> spec -> passing_labels: passing_labels ['maybe'] are not in labels ['right', 'wrong']; add them to `labels`",
        ],
        id="passing-labels-not-in-labels",
    ),
    pytest.param(
        T,
        "  choices: [order_status, other]\n",
        "  choices: [order_status, other]\n  item_messages: chat\n",
        [
            "specs/triage.yaml:25:18: Prompt/triage -> spec -> item_messages: items of dataset 'tickets' have no field 'chat' (fields: id, label, message, split)",
        ],
        id="item-messages-unknown-field",
    ),
    pytest.param(
        T,
        '  messages:\n    - role: system\n      content: Answer with one label.\n    - role: user\n      content: "Ticket: {{ item.message }}"\n',
        "",
        [
            "specs/triage.yaml:19:3: Prompt/triage -> spec: give `messages` (templates) or `item_messages` (an item field holding a chat)",
        ],
        id="prompt-without-messages",
    ),
    pytest.param(
        T,
        '      content: "Ticket: {{ item.message }}"\n',
        '      content: "Ticket: {{ items.message }}"\n',
        [
            "specs/triage.yaml:23:16: Prompt/triage -> spec -> messages[1] -> content: template uses unknown variable 'items'; it can use only `item`",
        ],
        id="template-unknown-variable",
    ),
    pytest.param(
        T,
        '  input: "{{ sample.output_text }}"\n  reference: "{{ item.label }}"\n  operation: eq\n',
        '  input: "{{ sample.output }}"\n  reference: "{{ item.label }}"\n  operation: eq\n',
        [
            "specs/triage.yaml:32:10: Grader/exact -> spec -> input: template uses unknown sample.output; did you mean 'output_text'?",
        ],
        id="grader-sample-field",
    ),
    pytest.param(
        T,
        '  reference: "{{ item.label }}"\n  operation: eq\n',
        '  reference: "{{ item.answer }}"\n  operation: eq\n',
        [
            "specs/triage.yaml:33:14: Grader/exact -> spec -> reference: template uses item.answer but items of dataset 'tickets' have no field 'answer' (fields: id, label, message, split)",
        ],
        id="grader-unknown-item-field",
    ),
    pytest.param(
        T,
        "    def grade(sample, item):\n",
        "    def score(sample, item):\n",
        [
            "specs/triage.yaml:73:11: Grader/length -> spec -> source: python grader must define `def grade(sample, item) -> float`",
        ],
        id="python-no-grade",
    ),
    pytest.param(
        T,
        '        return 1.0 if len(sample["output_text"]) < 20 else 0.0\n',
        '        return 1.0 if len(sample["output_text"] < 20 else 0.0\n',
        [
            "specs/triage.yaml:75:9: Grader/length -> spec -> source: python grader does not parse: expected 'else' after 'if' expression",
        ],
        id="python-syntax",
    ),
    pytest.param(
        T,
        "  calculate_output: 0.5 * exact + 0.5 * fuzzy\n",
        "  calculate_output: 0.5 * exact + 0.5 * fuzz\n",
        [
            "specs/triage.yaml:65:21: Grader/combined -> spec -> calculate_output: unknown name 'fuzz'; the formula can use exact, fuzzy",
        ],
        id="formula-unknown-name",
    ),
    pytest.param(
        T,
        "  calculate_output: 0.5 * exact + 0.5 * fuzzy\n",
        "  calculate_output: __import__('os').system('id')\n",
        [
            "specs/triage.yaml:65:21: Grader/combined -> spec -> calculate_output: only these functions may be called: min, max, abs, sqrt, log, exp, floor, ceil",
        ],
        id="formula-forbidden-call",
    ),
    pytest.param(
        T,
        '    completion: "{{ item.label }}"\n',
        "",
        [
            "specs/triage.yaml:101:3: FineTune/triage-sft -> spec: method 'sft' needs `training.completion` (the ideal answer template)",
        ],
        id="sft-needs-completion",
    ),
    pytest.param(
        T,
        "      metric: accuracy\n",
        "      metric: acuracy\n",
        [
            "specs/triage.yaml:111:15: FineTune/triage-sft -> spec -> triggers[0] -> metric: Eval 'triage' has no metric 'acuracy'; did you mean 'accuracy'?",
        ],
        id="trigger-unknown-metric",
    ),
    pytest.param(
        T,
        "    - name: similarity\n",
        "    - name: accuracy\n",
        [
            "specs/triage.yaml:87:5: Eval/triage -> spec -> metrics: metric names must be unique; rename the repeated 'accuracy'",
        ],
        id="duplicate-metric-names",
    ),
    pytest.param(
        T,
        "      value: {lower: 0.5}\n",
        "      value: {lower: 0.9, upper: 0.5}\n",
        [
            "specs/triage.yaml:89:14: Eval/triage -> spec -> metrics -> accuracy -> value: `lower` must not exceed `upper`",
        ],
        id="bounds-inverted",
    ),
]


def _break(repo: Path, file: str, old: str, new: str) -> None:
    path = repo / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {file}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("file", "old", "new", "expected"), CASES)
def test_malformed_spec_is_reported_exactly(
    mini_repo: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, expected: list[str]
) -> None:
    _break(mini_repo, file, old, new)
    code = main(["validate", "specs"])
    captured = capsys.readouterr()
    headlines = [line for line in captured.err.splitlines() if line.startswith("specs/")]
    assert code == 1
    assert headlines == expected
    assert captured.err.splitlines()[-1] == (
        f"flywheel: {len(expected)} error{'s' if len(expected) != 1 else ''} in "
        f"{len({h.split(':')[0] for h in expected})} file{'s' if len({h.split(':')[0] for h in expected}) != 1 else ''}"
    )
    assert "Traceback" not in captured.err
    assert captured.out == ""
