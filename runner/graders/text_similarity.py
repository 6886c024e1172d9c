"""`text_similarity`: one similarity metric between the rendered input and reference, in [0, 1].

Implementations (libraries rather than hand-written metrics, so scores match what users compute elsewhere):
- fuzzy_match: rapidfuzz `fuzz.ratio` / 100 (normalised Indel similarity of the two strings);
- bleu: sacrebleu `sentence_bleu` / 100 (its default 13a tokenizer and exponential smoothing);
- gleu: nltk `sentence_gleu` over whitespace tokens (Google-BLEU, n = 1..4);
- meteor: nltk `meteor_score` over whitespace tokens; with WordNet data installed (`nltk.download("wordnet")`) it
  matches synonyms as METEOR defines, without it only exact and Porter-stem matches count (no download is tried);
- rouge_1 .. rouge_5, rouge_l: rouge-score's F-measure (`RougeScorer`, its default tokenizer, no stemming);
- cosine: cosine similarity of the two texts' embeddings from `embedding_model` (through the judge, cached).

A list-valued reference (`ideal: ["18", "eighteen"]`) scores the best match among its elements.

Text in other scripts: when either text is not ASCII, bleu, gleu, meteor and rouge use one unicode-aware
tokenizer (`tokens`): case-folded words for scripts that separate words with spaces, and one token per character
for scripts that do not (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar; as sacrebleu's `zh` and
`char` tokenizers do). rouge-score's default tokenizer keeps only `[a-z0-9]`, so without this identical Cyrillic
or CJK text scored 0 and two sentences sharing only "2024" scored 1. ASCII text is tokenized exactly as before,
so scores stay comparable with OpenAI's graders.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.render import render_for, render_references
from runner.graders.text_libs import require
from runner.specs.grader import TextSimilarity


class _NoWordNet:
    """Stands in for WordNet when its data is not installed: no synonyms, so METEOR uses exact and stem matches."""

    def synsets(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


@cache
def _wordnet() -> Any:
    from nltk.corpus import wordnet  # noqa: PLC0415 - nltk is slow to import

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return _NoWordNet()
    return wordnet


CHAR_SCRIPTS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Thai, Lao, Myanmar, Khmer, Hiragana, Katakana, CJK ideographs: scripts written without spaces between words."""
_TOKEN = re.compile(f"[{CHAR_SCRIPTS}]|[^\\W{CHAR_SCRIPTS}]+")


def tokens(text: str) -> list[str]:
    """Unicode-aware tokens: case-folded words, and single characters of scripts written without spaces."""
    return _TOKEN.findall(text.casefold())


def _plain(*texts: str) -> bool:
    """Whether every text is ASCII: then each metric keeps its library's own tokenizer."""
    return all(t.isascii() for t in texts)


class _Tokenizer:
    """rouge-score's tokenizer interface over `tokens`."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


def fuzzy_match(text: str, reference: str) -> float:
    from rapidfuzz import fuzz  # noqa: PLC0415

    return float(fuzz.ratio(text, reference)) / 100.0


def bleu(text: str, reference: str) -> float:
    import sacrebleu  # noqa: PLC0415

    if _plain(text, reference):
        return float(sacrebleu.sentence_bleu(text, [reference]).score) / 100.0
    joined = " ".join(tokens(text)), " ".join(tokens(reference))
    return float(sacrebleu.sentence_bleu(joined[0], [joined[1]], tokenize="none").score) / 100.0


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu  # noqa: PLC0415

    if _plain(text, reference):
        return float(sentence_gleu([reference.split()], text.split()))
    return float(sentence_gleu([tokens(reference)], tokens(text)))


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score  # noqa: PLC0415

    if _plain(text, reference):
        return float(meteor_score([reference.split()], text.split(), wordnet=_wordnet()))
    return float(meteor_score([tokens(reference)], tokens(text), wordnet=_wordnet()))


@cache
def _rouge_scorer(kind: str, plain: bool = True) -> Any:
    from rouge_score import rouge_scorer  # noqa: PLC0415

    return rouge_scorer.RougeScorer([kind]) if plain else rouge_scorer.RougeScorer([kind], tokenizer=_Tokenizer())


def rouge(kind: str) -> Callable[[str, str], float]:
    """The rouge-score F-measure for `kind` ("rouge1" .. "rouge5", "rougeL")."""

    def score(text: str, reference: str) -> float:
        return float(_rouge_scorer(kind, _plain(text, reference)).score(reference, text)[kind].fmeasure)

    return score


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": rouge(f"rouge{n}") for n in range(1, 6)},
    "rouge_l": rouge("rougeL"),
}
"""The local metrics by `evaluation_metric` (cosine needs an embeddings endpoint and is handled apart)."""


class TextSimilarityGrader:
    async def grade(
        self, spec: TextSimilarity, sample: Sample, item: Mapping[str, Any], ctx: GradeContext
    ) -> GradeResult:
        text = render_for(spec.input, sample, item)
        references = render_references(spec.reference, sample, item)
        if spec.evaluation_metric == "cosine":
            assert spec.embedding_model is not None  # the spec validator requires it
            first, *others = await ctx.judge.embed(spec.embedding_model, [text, *references])
            score = max(cosine(first, b) for b in others)
        else:
            require(spec.evaluation_metric)
            score = max(METRICS[spec.evaluation_metric](text, r) for r in references)
        threshold = 1.0 if spec.pass_threshold is None else spec.pass_threshold
        return GradeResult(score=score, passed=score >= threshold)
