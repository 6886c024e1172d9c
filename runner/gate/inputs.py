"""The gate's effective inputs: everything that decides the verdict comes from the base ref, the head supplies
only what is under test. docs/trust.md is the same rule as a table; this module is its one implementation.

From the base ref: Datasets (items, labels, splits, schema), Graders and their files, the judge and embedding
Models those graders name, each Eval's metrics, floors, policy, split, repeats, reduction and budget, the
baselines, and the set of gated Evals. From the head: Prompts, and which Models an Eval evaluates with their
sampling parameters. A key (the value of an `api_key_env`) only goes to the endpoint the base ref's Model of
the same name pairs it with.

`assemble` is pure: it compares two loaded spec sets and returns the specs the head side runs under, plus every
change the pull request made to the gate's inputs. With an approval the head's versions are used instead (the
report says so); credentials never follow an approval.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runner.specs.common import parse_model_ref
from runner.specs.evals import EvalSpec, Metric
from runner.specs.grader import LabelModel, MultiGrader, Pairwise, PythonGrader, ScoreModel, TextSimilarity
from runner.specs.hashes import grader_hash
from runner.specs.loader import SpecSet
from runner.specs.model import ModelSpec

UNDER_TEST = ("prompt", "models")
"""The Eval fields a pull request may change without approval: which prompt, which models."""
MAX_IDS = 10
"""Item ids named per list in a change line (the rest are counted)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown_id(item_id: str) -> str:
    """An item id from the pull request's dataset, with control characters escaped (one line, no commands)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", item_id)


@dataclass(frozen=True)
class Approval:
    """A maintainer's approval of input changes, valid for one head commit."""

    by: str
    sha: str


@dataclass(frozen=True)
class DatasetDiff:
    """What the pull request did to the items of one Dataset a gated Eval reads."""

    dataset: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    relabelled: tuple[str, ...]
    """Same id, other content (labels or inputs)."""
    spec_changed: bool = False

    def line(self) -> str:
        parts = [
            f"{len(self.added)} item(s) added",
            f"{len(self.removed)} removed",
            f"{len(self.relabelled)} relabelled",
        ]
        text = f"Dataset '{self.dataset}': {', '.join(parts)}"
        for label, ids in (("removed", self.removed), ("relabelled", self.relabelled), ("added", self.added)):
            if ids:
                more = f" and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else ""
                text += f"; {label}: {', '.join(map(shown_id, ids[:MAX_IDS]))}{more}"
        if self.spec_changed:
            text += "; its spec (files, fields, schema or splits) changed"
        return text


@dataclass(frozen=True)
class GateInputs:
    """The specs the head side of the gate runs under, and what the pull request changed of the gate's inputs."""

    specs: SpecSet
    gated: tuple[str, ...]
    """Evals of the base ref that the head still has: gated."""
    removed: tuple[str, ...]
    """Evals of the base ref that the head removed or renamed."""
    new_evals: tuple[str, ...]
    """Evals only the head has: run and reported, not gated."""
    new_metrics: Mapping[str, tuple[str, ...]]
    """Eval -> metrics only the head has (in gated Evals): run and reported, not gated."""
    changes: tuple[str, ...]
    """Every change to the gate's inputs, one line each (the list an approval covers)."""
    datasets: tuple[DatasetDiff, ...]
    no_key: Mapping[str, str] = field(default_factory=dict)
    """Model name -> why the gate sends it no key (it cannot be evaluated)."""
    approval: Approval | None = None
    not_run: Mapping[str, str] = field(default_factory=dict)
    """Eval -> why none of it runs (`--head` mode: it needs the pull request's python code)."""
    skipped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Eval -> new metrics left out because they need the pull request's python code (`--head` mode)."""


def model_refs(spec: Any) -> Iterator[str]:
    """Names of the Models a grader spec calls (judges, embedding models), nested graders included."""
    if isinstance(spec, ScoreModel | LabelModel | Pairwise):
        yield parse_model_ref(spec.model)[0]
    if isinstance(spec, TextSimilarity) and spec.embedding_model is not None:
        yield parse_model_ref(spec.embedding_model)[0]
    if isinstance(spec, MultiGrader):
        for sub in spec.graders.values():
            yield from model_refs(sub)


def has_code(spec: Any) -> bool:
    """Whether a grader spec runs python (itself or a nested grader)."""
    if isinstance(spec, PythonGrader):
        return True
    return isinstance(spec, MultiGrader) and any(has_code(sub) for sub in spec.graders.values())


def _endpoint(spec: ModelSpec) -> str:
    return spec.base_url or ("https://api.openai.com/v1" if spec.provider == "openai" else f"provider {spec.provider}")


def key_refusal(name: str, spec: ModelSpec, base: SpecSet) -> str | None:
    """Why Model `name` (as `spec` declares it) may not receive its key, or None when it may (or needs none).

    A key goes only to the endpoint the base ref's Model of the same name pairs it with."""
    env = spec.key_env
    if env is None:
        return None
    located = base.models.get(name)
    if located is None:
        return (
            f"Model '{name}' is new in this pull request and needs {env}; no key was sent "
            "(a key goes only to an endpoint the base ref pairs it with: add the Model on the base branch first)"
        )
    was = located.doc.spec
    if (was.provider, was.base_url, was.api_key_env) != (spec.provider, spec.base_url, spec.api_key_env):
        where = f"{env} to {_endpoint(spec)}"
        before = f"{was.key_env} to {_endpoint(was)}" if was.key_env else f"no key to {_endpoint(was)}"
        return f"Model '{name}' would send {where}, but the base ref sends {before}; no key was sent"
    return None


def _fields(a: Any, b: Any, skip: Sequence[str] = ()) -> list[str]:
    da, db = a.model_dump(mode="json", by_alias=True), b.model_dump(mode="json", by_alias=True)
    return [k for k in sorted(set(da) | set(db)) if k not in skip and da.get(k) != db.get(k)]


def _floor(metric: Metric) -> str:
    v = metric.value
    if v is None:
        return "no floor"
    parts = ([f">= {v.lower:g}"] if v.lower is not None else []) + ([f"<= {v.upper:g}"] if v.upper is not None else [])
    return "floor " + " and ".join(parts)


def metric_floor(spec: EvalSpec, name: str) -> str:
    """`floor >= 0.5` (or `no floor`) for metric `name` of `spec`."""
    return next((_floor(m) for m in spec.metrics if m.name == name), "no floor")


def _eval_changes(name: str, base: EvalSpec, head: EvalSpec) -> list[str]:
    out = []
    fields = _fields(base, head, skip=(*UNDER_TEST, "metrics"))
    if fields:
        out.append(f"Eval '{name}': {', '.join(fields)} changed")
    head_metrics = {m.name: m for m in head.metrics}
    for metric in base.metrics:
        found = head_metrics.get(metric.name)
        if found is None:
            gated = "gated metric" if metric.gate else "metric"
            out.append(f"Eval '{name}': {gated} '{metric.name}' was removed or renamed")
        elif changed := _fields(metric, found):
            out.append(f"Eval '{name}': metric '{metric.name}' changed ({', '.join(changed)})")
    return out


def _grader_key(specs: SpecSet, name: str) -> str | None:
    if name not in specs.graders:
        return None
    try:
        return grader_hash(specs, name)
    except OSError:
        return "unreadable"


def dataset_diff(head: SpecSet, base: SpecSet, name: str) -> DatasetDiff | None:
    """The item-level difference of Dataset `name` (None when the head did not change it)."""
    b_items = {i.id: i for i in base.data[name].items}
    h_data = head.data.get(name)
    h_items = {i.id: i for i in h_data.items} if h_data else {}
    spec_changed = name in head.datasets and _fields(base.datasets[name].doc.spec, head.datasets[name].doc.spec) != []
    diff = DatasetDiff(
        name,
        tuple(i for i in h_items if i not in b_items),
        tuple(i for i in b_items if i not in h_items),
        tuple(
            i
            for i, item in b_items.items()
            if i in h_items and (h_items[i].hash, h_items[i].split) != (item.hash, item.split)
        ),
        spec_changed,
    )
    return diff if (diff.added or diff.removed or diff.relabelled or diff.spec_changed) else None


def _called_models(specs: SpecSet, evals: Sequence[str]) -> Iterator[str]:
    for name in evals:
        spec = specs.evals[name].doc.spec
        yield from (parse_model_ref(r)[0] for r in spec.models)
        if spec.baseline_model:
            yield parse_model_ref(spec.baseline_model)[0]
        for metric in spec.metrics:
            if metric.grader in specs.graders:
                yield from model_refs(specs.graders[metric.grader].doc.spec)


def _effective(head: SpecSet, base: SpecSet) -> SpecSet:
    """Head specs under the base ref's rules: base datasets, graders, judges and Eval policies; head prompts
    and evaluated models. Metrics only the head has are kept, ungated."""
    judges = {n for g in base.graders.values() for n in model_refs(g.doc.spec)}
    judges |= {parse_model_ref(e.doc.spec.baseline_model)[0] for e in base.evals.values() if e.doc.spec.baseline_model}
    evals = dict(head.evals)
    for name, located in head.evals.items():
        if name not in base.evals:
            continue
        was = base.evals[name].doc.spec
        known = {m.name for m in was.metrics}
        new = [m.model_copy(update={"gate": False}) for m in located.doc.spec.metrics if m.name not in known]
        spec = was.model_copy(
            update={
                "prompt": located.doc.spec.prompt,
                "models": located.doc.spec.models,
                "metrics": [*was.metrics, *new],
            }
        )
        evals[name] = replace(located, doc=located.doc.model_copy(update={"spec": spec}))
    return replace(
        head,
        models={**head.models, **{n: base.models[n] for n in judges if n in base.models}},
        datasets={**head.datasets, **base.datasets},
        data={**head.data, **base.data},
        graders={**head.graders, **base.graders},
        evals=evals,
    )


def _approved(head: SpecSet, base: SpecSet) -> SpecSet:
    """Head specs as they are (an approval), except that metrics the base ref does not have stay ungated."""
    evals = dict(head.evals)
    for name, located in head.evals.items():
        if name in base.evals:
            known = {m.name for m in base.evals[name].doc.spec.metrics}
            metrics = [m if m.name in known else m.model_copy(update={"gate": False}) for m in located.doc.spec.metrics]
            spec = located.doc.spec.model_copy(update={"metrics": metrics})
            evals[name] = replace(located, doc=located.doc.model_copy(update={"spec": spec}))
    return replace(head, evals=evals)


NO_CODE = "the pull_request_target mode never runs the pull request's python code"


def _without_head_code(specs: SpecSet, base: SpecSet) -> tuple[SpecSet, dict[str, str], dict[str, tuple[str, ...]]]:
    """`specs` minus the metrics whose graders run python that differs from the base ref's; an Eval whose gated
    metric needs such code does not run at all."""
    code = {
        name
        for name, g in specs.graders.items()
        if has_code(g.doc.spec) and (name not in base.graders or _grader_key(specs, name) != _grader_key(base, name))
    }
    evals = dict(specs.evals)
    not_run: dict[str, str] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    for name, located in specs.evals.items():
        spec = located.doc.spec
        bad = [m for m in spec.metrics if m.grader in code]
        if not bad:
            continue
        kept = [m for m in spec.metrics if m.grader not in code]
        if any(m.gate for m in bad if name in base.evals) or not kept:
            graders = ", ".join(sorted({m.grader for m in bad}))
            not_run[name] = f"grader(s) {graders} run python from this pull request; {NO_CODE}"
            continue
        skipped[name] = tuple(m.name for m in bad)
        evals[name] = replace(
            located, doc=located.doc.model_copy(update={"spec": spec.model_copy(update={"metrics": kept})})
        )
    return replace(specs, evals=evals), not_run, skipped


def assemble(
    head: SpecSet,
    base: SpecSet,
    tree_changes: Sequence[str] = (),
    approval: Approval | None = None,
    head_code: bool = True,
) -> GateInputs:
    """The gate's inputs for `head` against `base`; `tree_changes` are changes found outside the specs
    (baselines, workflows, the runner). `head_code=False` (the pull_request_target mode) never runs python
    graders the pull request added or changed."""
    changes: list[str] = []
    removed = tuple(sorted(n for n in base.evals if n not in head.evals))
    changes += [f"Eval '{n}' was removed or renamed (the base ref gates it)" for n in removed]
    gated = tuple(sorted(n for n in base.evals if n in head.evals))
    new_metrics: dict[str, tuple[str, ...]] = {}
    for name in gated:
        was, now = base.evals[name].doc.spec, head.evals[name].doc.spec
        changes += _eval_changes(name, was, now)
        known = {m.name for m in was.metrics}
        if added := tuple(m.name for m in now.metrics if m.name not in known):
            new_metrics[name] = added
    graders = sorted({m.grader for e in base.evals.values() for m in e.doc.spec.metrics})
    for grader in graders:
        now_key = _grader_key(head, grader)
        if now_key is None:
            changes.append(f"Grader '{grader}' was removed")
        elif now_key != _grader_key(base, grader):
            changes.append(f"Grader '{grader}' changed")
    judges = sorted({n for g in graders if g in base.graders for n in model_refs(base.graders[g].doc.spec)})
    for judge in judges:
        if judge in base.models and (
            judge not in head.models or _fields(base.models[judge].doc.spec, head.models[judge].doc.spec)
        ):
            changes.append(f"Model '{judge}' (a judge or embedding model of a gated grader) changed or was removed")
    diffs = []
    for dataset in sorted({base.evals[n].doc.spec.dataset for n in base.evals}):
        diff = dataset_diff(head, base, dataset)
        if diff is not None:
            diffs.append(diff)
            changes.append(diff.line())
    specs = _approved(head, base) if approval else _effective(head, base)
    not_run: dict[str, str] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    if not head_code:
        specs, not_run, skipped = _without_head_code(specs, base)
        new_metrics = {e: tuple(m for m in ms if m not in skipped.get(e, ())) for e, ms in new_metrics.items()}
    new_evals = tuple(sorted(n for n in head.evals if n not in base.evals))
    no_key: dict[str, str] = {}
    for model in sorted(set(_called_models(specs, (*gated, *new_evals)))):
        if model in specs.models and (why := key_refusal(model, specs.models[model].doc.spec, base)):
            no_key[model] = why
            changes.append(why)
    changes += tree_changes
    return GateInputs(
        specs, gated, removed, new_evals, new_metrics, tuple(changes), tuple(diffs), no_key, approval, not_run, skipped
    )


def base_side(inputs: GateInputs, base: SpecSet, eval_name: str) -> SpecSet:
    """Specs to evaluate the base ref's subject (its prompt and models) under the gate's inputs, when the
    baseline does not match them (missing, or computed on other items or graders)."""
    effective = inputs.specs
    was = base.evals[eval_name]
    located = effective.evals[eval_name]
    spec = located.doc.spec.model_copy(update={f: getattr(was.doc.spec, f) for f in UNDER_TEST})
    names = {parse_model_ref(r)[0] for r in was.doc.spec.models}
    return replace(
        effective,
        models={**effective.models, **{n: base.models[n] for n in names}},
        prompts={**effective.prompts, was.doc.spec.prompt: base.prompts[was.doc.spec.prompt]},
        evals={**effective.evals, eval_name: replace(located, doc=located.doc.model_copy(update={"spec": spec}))},
    )
