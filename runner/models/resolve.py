"""Resolving a model reference (`name` or `name@alias`) to a concrete model id and the endpoint serving it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.hashing import file_sha256
from runner.specs.common import parse_model_ref
from runner.specs.loader import SpecSet
from runner.specs.model import ModelSpec


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference resolved against the specs."""

    ref: str
    name: str
    model_id: str
    spec: ModelSpec
    endpoint: str
    """Identifies the server (part of every cache key): the base URL, or `local:<id>:<adapter digest>`."""
    adapter: Path | None = None
    """Local provider: the LoRA adapter file serving `model_id`, if it is not the base model."""

    @property
    def slug(self) -> str:
        """File-name-safe form of `ref`."""
        return self.ref.replace("@", "_at_")


def resolve_model(specs: SpecSet, ref: str) -> ResolvedModel:
    """Resolve `ref` (the loader already checked that the name and alias exist)."""
    name, alias = parse_model_ref(ref)
    located = specs.models[name]
    spec = located.doc.spec
    model_id = spec.resolve(alias)
    if spec.provider != "local":
        return ResolvedModel(ref, name, model_id, spec, spec.base_url or "https://api.openai.com/v1")
    rel = spec.adapters.get(model_id)
    adapter = (located.file.parent / rel).resolve() if rel else None
    # The adapter's content is part of the endpoint, so retraining under the same id invalidates the cache.
    digest = file_sha256(adapter)[:16] if adapter else "base"
    return ResolvedModel(ref, name, model_id, spec, f"local:{model_id}:{digest}", adapter)
