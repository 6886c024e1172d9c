"""The `Judge` graders use: model calls by Model spec name, through the run's `Caller` (cached, budgeted,
recorded), with temperature 0 and a seed pinned unless the grader sets them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.engine.calls import Caller
from runner.engine.requests import sampling
from runner.errors import ProviderError
from runner.hashing import content_hash
from runner.models.resolve import resolve_model
from runner.models.types import ChatRequest, ChatResponse
from runner.specs.loader import SpecSet
from runner.specs.model import LOCAL_MODEL_ID

PINNED = {"temperature": 0, "seed": 0}


class EngineJudge:
    """Judge calls for one cell (its repeat index keeps judge samples independent across repeats)."""

    def __init__(self, specs: SpecSet, caller: Caller, repeat: int, what: str) -> None:
        self.specs = specs
        self.caller = caller
        self.repeat = repeat
        self.what = what
        self.cost_usd = 0.0
        """Dollars spent by this cell's judge calls."""
        self.failure: str | None = None
        """The first judge call that failed after its retries: the cell is then failed, never scored."""

    async def chat(
        self, model_ref: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
    ) -> ChatResponse:
        model = resolve_model(self.specs, model_ref)
        body = sampling(model.spec, {**PINNED, **params})
        body_model = model.model_id
        if model.spec.provider == "local":
            body_model = LOCAL_MODEL_ID
            rf = body.get("response_format")
            if isinstance(rf, Mapping) and rf.get("type") == "json_schema":
                # llama.cpp's server fails on json_schema but honours json_object with a schema.
                body["response_format"] = {"type": "json_object", "schema": rf["json_schema"]["schema"]}
        request = ChatRequest(model.endpoint, body_model, tuple(dict(m) for m in messages), body)
        try:
            result = await self.caller.call(model, request, self.repeat, f"judge {model_ref} for {self.what}")
        except ProviderError as exc:
            if self.failure is None:
                self.failure = f"judge call failed: {exc}"
            raise
        self.cost_usd += result.cost_usd
        return result.response

    async def embed(self, model_ref: str, texts: Sequence[str]) -> list[list[float]]:
        model = resolve_model(self.specs, model_ref)
        key = content_hash({"endpoint": model.endpoint, "model": model.model_id, "embed": list(texts)})
        cached = self.caller.store.get_response(key) if self.caller.use_cache else None
        if cached is not None:
            return [list(map(float, v)) for v in cached["embeddings"]]
        client = await self.caller.pool.client(model)
        vectors = await client.embed(model.model_id, texts)
        self.caller.store.put_response(key, {"embeddings": vectors}, 0.0)
        return vectors
