"""Checks on training data before anything is spent: OpenAI's per-method line rules, contamination of the
evals that judge the model, and a token and cost report.

Contamination: the evals that count are those the trained model is judged on (`judging_evals`): the recipe's
promotion Eval, the Evals of its `metric_below` triggers, and every Eval that lists the base Model (any alias).
Each Eval's split is rendered through that Eval's own prompt. Inputs are compared after `normalise` (casefold,
whitespace collapsed) two ways: the whole conversation without assistant turns, and each user message alone, so
a differently-worded system prompt over the same user text still matches. System and developer messages are
never compared alone (they are shared by every item). A user message wrapped in different words by the two
prompts (`Ticket: {{ item.message }}` against `{{ item.message }}`) is not caught.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from runner.engine.requests import render_messages
from runner.errors import Diagnostic, TrainingDataError
from runner.finetune.data import (
    Accept,
    ExampleInput,
    Part,
    Teacher,
    TrainingFile,
    build_inputs_file,
    build_training_file,
    data_hash,
    fingerprint,
    training_data_hash,
)
from runner.models.pricing import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, count_tokens
from runner.specs.common import parse_model_ref
from runner.specs.finetune import Method, MetricBelow
from runner.specs.loader import SpecSet, display_path
from runner.specs.model import Pricing

MIN_EXAMPLES = 10
"""OpenAI rejects training files with fewer examples."""
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "weight")

# OpenAI's default epochs for n_epochs "auto" (the cookbook's data-prep heuristic): 3 epochs, raised so that
# small sets see at least 100 examples in total and lowered so that large ones see at most 25,000.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _snippet(line: int, text: str) -> tuple[str, ...]:
    return (f"{line:>5} | {text if len(text) <= 120 else text[:117] + '...'}",)


# -- line rules ---------------------------------------------------------------------------------------------------


def _message_problems(messages: list[Any], label: str) -> Iterator[str]:
    """Problems of each message on its own; `label` names them ("message", "input message")."""
    for i, msg in enumerate(messages, 1):
        name = f"{label} {i}"
        if not isinstance(msg, dict):
            yield f'{name} is {_json_type(msg)}, not an object; write it as {{"role": ..., "content": ...}}'
            continue
        for key in sorted(k for k in msg if k not in MESSAGE_KEYS):
            yield f"{name} has unrecognised key {key!r}; allowed: {', '.join(MESSAGE_KEYS)}"
        role = msg.get("role")
        if role is None:
            yield f"{name} has no 'role'; add one of {', '.join(ROLES)}"
        elif role not in ROLES:
            yield f"{name} has role {role!r}; use one of {', '.join(ROLES)}"
        calls = msg.get("tool_calls") or msg.get("function_call")
        content = msg.get("content")
        if "content" not in msg and not calls:
            yield f"{name} has no 'content'; add the message text as \"content\""
        elif content is not None and not isinstance(content, str | list):
            yield f"{name} has content of type {_json_type(content)}; write the message text as a string"
        elif role == "assistant" and not calls and not (content.strip() if isinstance(content, str) else content):
            yield f"{name} is an assistant message with empty content; give the answer to learn"
        if "weight" in msg:
            weight = msg["weight"]
            if role != "assistant":
                yield f"{name} has a 'weight' but role {role!r}; only assistant messages take one: remove it"
            elif type(weight) is not int or weight not in (0, 1):
                yield f"{name} has weight {json.dumps(weight)}; use 0 (do not learn this turn) or 1 (learn it)"


def _messages_list(example: dict[str, Any], key: str, where: str, fix: str) -> list[Any] | str:
    """The list at `example[key]`, or the problem with it."""
    value = example.get(key)
    if key not in example:
        return f"no {where}; {fix}"
    if not isinstance(value, list):
        return f"{where} is {_json_type(value)}, not a list; {fix}"
    if not value:
        return f"{where} is empty; {fix}"
    return value


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _chat_problems(example: dict[str, Any]) -> Iterator[str]:
    """sft and distill: a conversation that ends with the assistant answer to learn."""
    messages = _messages_list(
        example, "messages", "'messages'", 'add "messages": [..., {"role": "assistant", "content": ...}]'
    )
    if isinstance(messages, str):
        yield messages
        return
    yield from _message_problems(messages, "message")
    roles = [_role(m) for m in messages]
    if "assistant" not in roles:
        yield 'no assistant message; end the example with {"role": "assistant", "content": <the answer to learn>}'
    elif roles[-1] != "assistant":
        yield f"last message has role {roles[-1]!r}; end the example with the assistant answer to learn"


def _output_problems(example: dict[str, Any], key: str) -> Iterator[str]:
    value = example.get(key)
    fix = f'add "{key}": [{{"role": "assistant", "content": ...}}]'
    if not isinstance(value, list):
        yield f"no '{key}' list; {fix}" if key not in example else f"'{key}' is {_json_type(value)}; {fix}"
        return
    if len(value) != 1:
        yield f"'{key}' has {len(value)} messages; give exactly one assistant message"
        return
    msg = value[0]
    if not isinstance(msg, dict) or msg.get("role") != "assistant":
        role = msg.get("role") if isinstance(msg, dict) else _json_type(msg)
        yield f"'{key}' holds {role!r}, not an assistant message; {fix}"
    elif not isinstance(msg.get("content"), str) or not msg["content"].strip():
        yield f"'{key}' message has no content; give the answer as non-empty text"


def _dpo_problems(example: dict[str, Any]) -> Iterator[str]:
    """dpo: a prompt in `input.messages` and exactly one preferred and one non-preferred assistant answer."""
    inp = example.get("input")
    if not isinstance(inp, dict):
        yield 'no \'input\' object; add "input": {"messages": [...the prompt...]}'
    else:
        messages = _messages_list(inp, "messages", "'input.messages'", 'add "messages": [...] inside "input"')
        if isinstance(messages, str):
            yield messages
        else:
            yield from _message_problems(messages, "input message")
            if _role(messages[-1]) == "assistant":
                yield "'input.messages' ends with an assistant message; end it with the user turn both outputs answer"
    problems = [*_output_problems(example, "preferred_output"), *_output_problems(example, "non_preferred_output")]
    yield from problems
    if not problems and example["preferred_output"][0]["content"] == example["non_preferred_output"][0]["content"]:
        yield "'preferred_output' and 'non_preferred_output' are identical; make the rejected answer differ"


def _rft_problems(example: dict[str, Any]) -> Iterator[str]:
    """rft: the prompt only, ending with the user turn the model answers; other keys are the grader's `item`."""
    messages = _messages_list(example, "messages", "'messages'", 'add "messages": [..., {"role": "user", ...}]')
    if isinstance(messages, str):
        yield messages
        return
    yield from _message_problems(messages, "message")
    last = _role(messages[-1])
    if last != "user":
        fix = ": remove the trailing assistant turn" if last == "assistant" else ""
        yield f"last message has role {last!r}; rft examples end with the user message the model answers{fix}"


def line_problems(example: Any, method: Method) -> list[str]:
    """Every problem of one parsed JSONL line under `method`'s rules."""
    if not isinstance(example, dict):
        return [f"expected a JSON object, got {_json_type(example)}; write one example per line as a JSON object"]
    if method == "dpo":
        return list(_dpo_problems(example))
    if method == "rft":
        return list(_rft_problems(example))
    return list(_chat_problems(example))


def validate_training_file(path: Path, method: Method, *, min_examples: int = MIN_EXAMPLES) -> list[Diagnostic]:
    """Every problem of a JSONL training file under OpenAI's rules for `method`, each at its 1-based line; too
    few examples is one diagnostic for the whole file (line None)."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(shown, None, None, "", f"cannot read the training file ({exc}); write it as UTF-8 JSONL")]
    diags: list[Diagnostic] = []
    lines = text.splitlines()
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            diags.append(Diagnostic(shown, n, None, "", "empty line; remove it (one JSON example per line)"))
            continue
        try:
            example = json.loads(raw)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON ({exc.msg}); write one JSON object per line"
            diags.append(Diagnostic(shown, n, exc.colno, "", message, _snippet(n, raw)))
            continue
        diags.extend(Diagnostic(shown, n, None, "", p, _snippet(n, raw)) for p in line_problems(example, method))
    count = sum(1 for raw in lines if raw.strip())
    if count < min_examples:
        message = (
            f"{count} example{'s' if count != 1 else ''}; fine-tuning needs at least {min_examples}: add examples "
            "(OpenAI suggests starting with 50 to 100)"
        )
        diags.append(Diagnostic(shown, None, None, "", message))
    return diags


def read_examples(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, example) of every line that parses as a JSON object; validation reports the others."""
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            example = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(example, dict):
            out.append((n, example))
    return out


# -- contamination ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalInput:
    """The hashed input of one item of an Eval that judges the trained model."""

    eval: str
    split: str | None
    item_id: str
    conversation: str
    contents: tuple[str, ...]


def judging_evals(specs: SpecSet, name: str) -> tuple[str, ...]:
    """Evals the model trained by FineTune `name` is judged on: the promotion Eval, `metric_below` trigger Evals,
    and every Eval listing the base Model (any alias). Sorted."""
    spec = specs.finetunes[name].doc.spec
    base, _ = parse_model_ref(spec.base_model)
    names = {t.eval for t in spec.triggers if isinstance(t, MetricBelow)}
    if spec.promotion is not None:
        names.add(spec.promotion.eval)
    names |= {e for e, loc in specs.evals.items() if base in {parse_model_ref(m)[0] for m in loc.doc.spec.models}}
    return tuple(sorted(n for n in names if n in specs.evals))


def collect_eval_inputs(specs: SpecSet, evals: Sequence[str]) -> list[EvalInput]:
    """The inputs of every item of each Eval's split, rendered through that Eval's own prompt. Items whose
    prompt does not render are skipped (the eval records them as errors without a call)."""
    out: list[EvalInput] = []
    for ev in evals:
        spec = specs.evals[ev].doc.spec
        loaded = specs.data.get(spec.dataset)
        if loaded is None:
            continue
        prompt = specs.prompts[spec.prompt].doc.spec
        for item in loaded.select(spec.split):
            try:
                messages = render_messages(prompt, item.data)
            except TemplateError:
                continue
            fp = fingerprint(messages, 0, item.id)
            out.append(EvalInput(ev, spec.split, item.id, fp.conversation, fp.contents))
    return out


def leaks(
    training_inputs: Sequence[ExampleInput], eval_inputs: Sequence[EvalInput]
) -> list[tuple[ExampleInput, EvalInput]]:
    """(training example, eval item) pairs whose inputs are the same (whole, or any user message), in training
    order, then by eval and item id."""
    by_conversation: dict[str, list[EvalInput]] = {}
    by_content: dict[str, list[EvalInput]] = {}
    for e in eval_inputs:
        by_conversation.setdefault(e.conversation, []).append(e)
        for h in set(e.contents):
            by_content.setdefault(h, []).append(e)
    pairs: list[tuple[ExampleInput, EvalInput]] = []
    for t in training_inputs:
        hits = {*by_conversation.get(t.conversation, [])}
        for h in set(t.contents):
            hits.update(by_content.get(h, []))
        pairs.extend((t, e) for e in sorted(hits, key=lambda e: (e.eval, e.item_id)))
    return pairs


def overlap_summary(specs: SpecSet, name: str) -> str | None:
    """One line for `validate` and `plan` when training items of FineTune `name` have the same input as items of
    an Eval that judges the trained model (training would refuse them); None when there is no such item, or the
    training data cannot be built (training reports that itself)."""
    eval_inputs = collect_eval_inputs(specs, judging_evals(specs, name))
    if not eval_inputs:
        return None
    with tempfile.TemporaryDirectory(prefix="flywheel-overlap-") as tmp:
        try:
            probe = build_inputs_file(specs, name, Path(tmp) / "inputs.jsonl")
        except TrainingDataError:
            return None
    pairs = leaks(probe.inputs, eval_inputs)
    if not pairs:
        return None
    items = {t.item_id for t, _ in pairs}
    evals = sorted({e.eval for _, e in pairs})
    first_t, first_e = pairs[0]
    return (
        f"FineTune/{name}: {len(items)} training item{'s' if len(items) != 1 else ''} "
        f"{'have' if len(items) != 1 else 'has'} the same input as items of Eval {', '.join(evals)} "
        f"(first: training item '{first_t.item_id}' = item '{first_e.item_id}' of '{first_e.eval}'); "
        "remove them from the training data, or training will refuse to start"
    )


def check_contamination(
    training_inputs: Sequence[ExampleInput], eval_inputs: Sequence[EvalInput], *, file: str
) -> list[Diagnostic]:
    """An error for each training example whose input (whole, or any user message) equals an eval item's; `file`
    is the training file as shown in messages."""
    diags = []
    for t, e in leaks(training_inputs, eval_inputs):
        split = f"split '{e.split}'" if e.split is not None else "all splits"
        message = (
            f"training item '{t.item_id}' has the same input as item '{e.item_id}' of Eval '{e.eval}' ({split}); "
            "the model would be judged on what it trained on: remove it from the training data"
        )
        diags.append(Diagnostic(file, t.line, None, "", message))
    return diags


def check_overlap(training: TrainingFile, validation: TrainingFile) -> list[Diagnostic]:
    """An error for each validation example whose whole input is also a training example's (OpenAI: the two
    files should not overlap)."""
    seen = {t.conversation: t for t in training.inputs}
    shown = display_path(validation.path)
    return [
        Diagnostic(
            shown,
            v.line,
            None,
            "",
            f"validation item '{v.item_id}' has the same input as training item '{seen[v.conversation].item_id}' "
            f"(line {seen[v.conversation].line}); keep the validation data apart from the training data",
        )
        for v in validation.inputs
        if v.conversation in seen
    ]


# -- tokens and cost ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenReport:
    """Training tokens and what they cost."""

    examples: int
    tokens_per_epoch: int
    max_example_tokens: int
    n_epochs: int
    """Resolved: `auto` becomes OpenAI's default for this many examples (`auto_epochs`)."""
    total_tokens: int
    """tokens_per_epoch x n_epochs: what the provider bills."""
    usd: float | None
    """total_tokens / 1M x `Pricing.training_per_1m`; None when no price is known, and for rft (billed by time)."""


def auto_epochs(n_examples: int) -> int:
    """OpenAI's default epochs: 3, raised for small sets (to about 100 examples seen), lowered for big ones."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / n_examples))
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def _trained_messages(example: Mapping[str, Any], method: Method) -> list[Any]:
    if method == "dpo":
        inp = example.get("input")
        messages = inp.get("messages", []) if isinstance(inp, dict) else []
        return [*messages, *example.get("preferred_output", []), *example.get("non_preferred_output", [])]
    messages = example.get("messages", [])
    return messages if isinstance(messages, list) else []


def example_tokens(example: Mapping[str, Any], method: Method) -> int:
    """Tokens of one example, counted as the project counts prompts (cl100k_base + per-message framing)."""
    total = TOKENS_PER_REPLY
    for m in _trained_messages(example, method):
        if not isinstance(m, dict):
            continue
        total += TOKENS_PER_MESSAGE
        for key in ("content", "name", "tool_calls", "function_call"):
            value = m.get(key)
            if value:
                total += count_tokens(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return total


def token_report(path: Path, method: Method, n_epochs: int | str, pricing: Pricing | None) -> TokenReport:
    """Tokens of the file at `path`, times epochs (`"auto"`: `auto_epochs`), priced by `pricing.training_per_1m`."""
    per_example = [example_tokens(e, method) for _, e in read_examples(path)]
    epochs = auto_epochs(len(per_example)) if n_epochs == "auto" else int(n_epochs)
    tokens = sum(per_example)
    price = pricing.training_per_1m if pricing is not None else None
    usd = tokens * epochs / 1_000_000 * price if price is not None and method != "rft" else None
    return TokenReport(len(per_example), tokens, max(per_example, default=0), epochs, tokens * epochs, usd)


# -- the whole check ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedTraining:
    """A recipe's training data, built and checked: safe to upload."""

    recipe: str
    method: Method
    training: TrainingFile
    validation: TrainingFile | None
    data_hash: str
    """The `dataset_changed` trigger's hash (`data.training_data_hash`)."""
    tokens: TokenReport
    evals_checked: tuple[str, ...]
    """Evals whose items were checked for contamination."""


def validate_recipe(
    specs: SpecSet,
    name: str,
    work_dir: Path,
    *,
    teacher: Teacher | None = None,
    accept: Accept | None = None,
) -> ValidatedTraining:
    """Build `work_dir/train.jsonl` (and `validation.jsonl`), validate them, check contamination and overlap,
    count tokens. Raises TrainingDataError with every problem found."""
    loc = specs.finetunes[name]
    spec = loc.doc.spec
    diags: list[Diagnostic] = []
    built: dict[str, TrainingFile] = {}
    parts: list[tuple[Part, str, int]] = [("training", "train.jsonl", MIN_EXAMPLES)]
    if spec.validation is not None:
        parts.append(("validation", "validation.jsonl", 1))
    elif spec.method == "rft" and spec.backend == "openai":
        message = "method 'rft' on the openai backend needs `validation:`; add a validation split"
        diags.append(Diagnostic(loc.shown, loc.line_of(("spec",)), None, f"FineTune/{name} -> spec", message))
    evals = judging_evals(specs, name)
    eval_inputs = collect_eval_inputs(specs, evals)
    if spec.method == "distill" and teacher is not None:
        # The teacher is paid per item: refuse contaminated inputs before asking it anything.
        try:
            probe = build_inputs_file(specs, name, work_dir / "train.inputs.jsonl")
        except TrainingDataError as exc:
            raise TrainingDataError([*diags, *exc.diagnostics]) from None
        leaks = check_contamination(probe.inputs, eval_inputs, file=display_path(probe.path))
        if leaks:
            raise TrainingDataError([*diags, *leaks])
    for part, filename, minimum in parts:
        try:
            tf = build_training_file(specs, name, work_dir / filename, part=part, teacher=teacher, accept=accept)
        except TrainingDataError as exc:
            diags.extend(exc.diagnostics)
            continue
        built[part] = tf
        diags.extend(validate_training_file(tf.path, spec.method, min_examples=minimum))
    training = built.get("training")
    if training is not None:
        shown = display_path(training.path)
        diags.extend(check_contamination(training.inputs, eval_inputs, file=shown))
        if "validation" in built:
            diags.extend(check_overlap(training, built["validation"]))
    if diags or training is None:
        raise TrainingDataError(diags)
    base = specs.models.get(parse_model_ref(spec.base_model)[0])
    tokens = token_report(
        training.path, spec.method, spec.hyperparameters.n_epochs, base.doc.spec.pricing if base else None
    )
    hashed = training_data_hash(specs, name) if spec.method == "distill" else data_hash(spec.method, training.sha256)
    return ValidatedTraining(name, spec.method, training, built.get("validation"), hashed, tokens, evals)
