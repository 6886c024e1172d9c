"""Training files from FineTune recipes: dataset items rendered into OpenAI's JSONL shape for the method,
written canonically (sorted by item id, fixed key order, atomic) and hashed.

Shapes, one example per line:
- sft: `{"messages": [...prompt..., {"role": "assistant", "content": <completion>}]}`
- dpo: `{"input": {"messages": [...]}, "preferred_output": [assistant], "non_preferred_output": [assistant]}`
- rft: `{"messages": [...prompt, ending with the user turn...], <every item field but "messages">}`
- distill: sft, the answer coming from a teacher and kept only when `accept` (the recipe's graders) passes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateError

from runner.engine.requests import render_messages
from runner.errors import Diagnostic, TrainingDataError
from runner.fsutil import atomic_write_text
from runner.hashing import content_hash, sha256_hex
from runner.specs.common import parse_model_ref
from runner.specs.datasets import Item
from runner.specs.finetune import FineTuneSpec, Method, TrainingData
from runner.specs.hashes import grader_hash
from runner.specs.loader import SpecSet
from runner.specs.prompt import PromptSpec
from runner.specs.templates import render

Message = dict[str, str]
Teacher = Callable[[list[Message]], str]
"""Answers one rendered conversation (the lead wires the teacher model's call here)."""
Accept = Callable[[Item, str], bool]
"""Whether a teacher answer for an item passes the recipe's graders."""
Part = Literal["training", "validation"]


@dataclass(frozen=True)
class ExampleInput:
    """What one example asks the model, hashed for contamination and overlap checks."""

    line: int
    """1-based line of the example in its JSONL file."""
    item_id: str
    conversation: str
    """sha256 of the non-assistant messages, each as (role, normalised content)."""
    contents: tuple[str, ...]
    """sha256 of each user message's normalised content, so a differently-worded system prompt over the same
    user text still matches."""


@dataclass(frozen=True)
class TrainingFile:
    """A written training (or validation) file."""

    path: Path
    sha256: str
    """sha256 of the file bytes."""
    method: Method
    n_examples: int
    inputs: tuple[ExampleInput, ...]
    """One per example, in file order."""
    dropped: int = 0
    """distill: teacher answers that `accept` rejected (their items are not in the file)."""


def normalise(text: str) -> str:
    """Casefold and collapse whitespace: the form in which inputs are compared."""
    return " ".join(text.casefold().split())


def input_messages(example: Mapping[str, Any], method: Method) -> list[Mapping[str, Any]]:
    """The non-assistant messages of a parsed example (what the model is asked)."""
    if method == "dpo":
        raw = example.get("input", {}).get("messages", []) if isinstance(example.get("input"), dict) else []
    else:
        raw = example.get("messages", [])
    if not isinstance(raw, list):
        return []
    return [m for m in raw if isinstance(m, Mapping) and m.get("role") != "assistant"]


def fingerprint(messages: Sequence[Mapping[str, Any]], line: int, item_id: str) -> ExampleInput:
    """Hashes of the input `messages` (assistant turns are skipped), for contamination and overlap checks."""
    asked = [m for m in messages if m.get("role") != "assistant"]
    text = [(str(m.get("role")), normalise(_text(m.get("content")))) for m in asked]
    contents = tuple(sha256_hex(t) for r, t in text if r == "user")
    return ExampleInput(line, item_id, content_hash(text), contents)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "" if content is None else json.dumps(content, sort_keys=True, ensure_ascii=False)


def item_order(item_id: str) -> tuple[int, int, str]:
    """Sort key of item ids: numeric ids by value (2 before 10), others as text, after numeric ones."""
    if item_id.isascii() and item_id.isdigit():
        return (0, int(item_id), item_id)
    return (1, 0, item_id)


def select_items(specs: SpecSet, data: TrainingData) -> list[Item]:
    """The items a recipe part trains on: its split, sorted by id, the first `max_examples`."""
    items = sorted(specs.data[data.dataset].select(data.split), key=lambda i: item_order(i.id))
    return items[: data.max_examples] if data.max_examples is not None else items


def dumps(example: Mapping[str, Any]) -> str:
    """One JSONL line: key order as built, compact separators, UTF-8 kept."""
    return json.dumps(example, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def jsonl(examples: Sequence[Mapping[str, Any]]) -> str:
    """The canonical text of a training file."""
    return "".join(dumps(e) + "\n" for e in examples)


def data_hash(method: Method, file_sha256: str, extra: Mapping[str, Any] | None = None) -> str:
    """The training data hash compared by the `dataset_changed` trigger: method + rendered file content."""
    return content_hash({"method": method, "file": file_sha256, **(extra or {})})


class _Renderer:
    """Renders one recipe part item by item, collecting every template failure instead of stopping."""

    def __init__(self, specs: SpecSet, name: str, part: Part) -> None:
        spec = specs.finetunes[name].doc.spec
        data = spec.training if part == "training" else spec.validation
        assert data is not None, f"FineTune '{name}' has no {part}"
        self.name, self.part, self.spec, self.data = name, part, spec, data
        self.prompt = specs.prompts[data.prompt].doc.spec
        self.problems: list[Diagnostic] = []

    def _fail(self, item: Item, what: str, field: str, exc: TemplateError) -> None:
        where = f"FineTune/{self.name} -> spec -> {self.part} -> {field}"
        message = f"item '{item.id}': {what} does not render: {exc.message or exc}; fix the template or the item"
        self.problems.append(Diagnostic(item.file, item.line, None, where, message))

    def messages(self, item: Item) -> list[Message] | None:
        try:
            return render_messages(self.prompt, item.data)
        except TemplateError as exc:
            self._fail(item, f"prompt '{self.data.prompt}'", "prompt", exc)
            return None

    def template(self, item: Item, field: Literal["completion", "rejected"]) -> str | None:
        source = getattr(self.data, field)
        assert source is not None
        try:
            return render(source, item=item.data)
        except TemplateError as exc:
            self._fail(item, f"the {field} template", field, exc)
            return None


def _assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


def _example(r: _Renderer, method: Method, item: Item, messages: list[Message]) -> dict[str, Any] | None:
    if method == "sft":
        answer = r.template(item, "completion")
        return None if answer is None else {"messages": [*messages, _assistant(answer)]}
    if method == "dpo":
        chosen, rejected = r.template(item, "completion"), r.template(item, "rejected")
        if chosen is None or rejected is None:
            return None
        return {
            "input": {"messages": messages},
            "preferred_output": [_assistant(chosen)],
            "non_preferred_output": [_assistant(rejected)],
        }
    # rft: the item's fields are what the graders read as `item.*`
    return {"messages": messages, **{k: item.data[k] for k in sorted(item.data) if k != "messages"}}


@dataclass(frozen=True)
class _Rows:
    examples: list[tuple[Item, dict[str, Any]]]
    dropped: int


def _rows(
    specs: SpecSet,
    name: str,
    part: Part,
    teacher: Teacher | None,
    accept: Accept | None,
    *,
    inputs_only: bool = False,
) -> _Rows:
    r = _Renderer(specs, name, part)
    method: Method = r.spec.method
    if method == "distill" and teacher is None and not inputs_only:
        raise ValueError(f"FineTune '{name}' is a distill recipe: pass `teacher` (and `accept`) to build it")
    out: list[tuple[Item, dict[str, Any]]] = []
    dropped = 0
    for item in select_items(specs, r.data):
        messages = r.messages(item)
        if messages is None:
            continue
        if method == "distill":
            if inputs_only:
                out.append((item, {"messages": messages}))
                continue
            assert teacher is not None
            answer = teacher([dict(m) for m in messages])
            if accept is not None and not accept(item, answer):
                dropped += 1
                continue
            out.append((item, {"messages": [*messages, _assistant(answer)]}))
            continue
        example = _example(r, method, item, messages)
        if example is not None:
            out.append((item, example))
    if r.problems:
        raise TrainingDataError(r.problems)
    return _Rows(out, dropped)


def write_training_file(
    examples: Sequence[tuple[Item, Mapping[str, Any]]], method: Method, path: Path, dropped: int = 0
) -> TrainingFile:
    """Write `examples` (already in order) atomically and fingerprint their inputs."""
    text = jsonl([e for _, e in examples])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    inputs = tuple(
        fingerprint(input_messages(example, method), n, item.id) for n, (item, example) in enumerate(examples, 1)
    )
    return TrainingFile(path, sha256_hex(text), method, len(examples), inputs, dropped)


def build_training_file(
    specs: SpecSet,
    name: str,
    path: Path,
    *,
    part: Part = "training",
    teacher: Teacher | None = None,
    accept: Accept | None = None,
) -> TrainingFile:
    """Render the `part` of FineTune `name` and write it to `path`. Raises TrainingDataError listing every item
    whose templates fail. distill needs `teacher`; `accept` (default: keep all) filters its answers."""
    rows = _rows(specs, name, part, teacher, accept)
    return write_training_file(rows.examples, specs.finetunes[name].doc.spec.method, path, rows.dropped)


def build_inputs_file(specs: SpecSet, name: str, path: Path) -> TrainingFile:
    """The training inputs of FineTune `name` without answers (for distill: what the teacher would be asked),
    written to `path`, so they can be checked before anything is spent on answers."""
    rows = _rows(specs, name, "training", None, None, inputs_only=True)
    return write_training_file(rows.examples, specs.finetunes[name].doc.spec.method, path)


def training_data_hash(specs: SpecSet, name: str) -> str:
    """Hash of the rendered training data + method, for the `dataset_changed` trigger. It covers the rows used
    (split, first `max_examples`), the prompt and the completion/rejected templates, nothing else. distill
    never calls the teacher here: it hashes the rendered inputs, the teacher reference and the graders."""
    spec: FineTuneSpec = specs.finetunes[name].doc.spec
    rows = _rows(specs, name, "training", None, None, inputs_only=True)
    extra: dict[str, Any] = {}
    if spec.method == "distill":
        extra = {"teacher": spec.teacher, "graders": [grader_hash(specs, g) for g in spec.graders]}
    return data_hash(spec.method, sha256_hex(jsonl([e for _, e in rows.examples])), extra)


def base_model_id(specs: SpecSet, spec: FineTuneSpec) -> str:
    """The model id training starts from: the alias named in `base_model`, else the Model's `model`."""
    name, alias = parse_model_ref(spec.base_model)
    model = specs.models[name].doc.spec
    return model.resolve(alias) if alias else model.model


_NOT_TRAINING = frozenset({"triggers", "promotion", "openai_cutoff"})
"""Recipe fields that do not change the trained model, so editing them does not start a new (paid) job."""


def recipe_hash(specs: SpecSet, name: str, data_hash: str) -> str:
    """The job identity: everything that changes the trained model (the recipe's training fields, the training
    data hash, the base model id, and the content of the graders an rft reward or a distill filter uses).
    Backends find a job by it, so the same identity never trains twice."""
    spec: FineTuneSpec = specs.finetunes[name].doc.spec
    return content_hash(
        {
            "recipe": spec.model_dump(mode="json", exclude=set(_NOT_TRAINING)),
            "data": data_hash,
            "base": base_model_id(specs, spec),
            "graders": [grader_hash(specs, g) for g in spec.graders],
        }
    )


def write_corrections(prompt: PromptSpec, corrections: Sequence[tuple[Item, str]], path: Path) -> TrainingFile:
    """An sft file from eval results: each (item, corrected answer) rendered through the eval's `prompt` with the
    correction as the assistant answer. Sorted by item id; a later correction of the same item wins."""
    latest = {item.id: (item, answer) for item, answer in corrections}
    examples: list[tuple[Item, Mapping[str, Any]]] = []
    problems: list[Diagnostic] = []
    for item_id in sorted(latest, key=item_order):
        item, answer = latest[item_id]
        try:
            messages = render_messages(prompt, item.data)
        except TemplateError as exc:
            message = (
                f"item '{item.id}': the prompt does not render: {exc.message or exc}; fix the template or the item"
            )
            problems.append(Diagnostic(item.file, item.line, None, "", message))
            continue
        examples.append((item, {"messages": [*messages, _assistant(answer)]}))
    if problems:
        raise TrainingDataError(problems)
    return write_training_file(examples, "sft", path)
