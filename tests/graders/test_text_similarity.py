"""text_similarity against the libraries' own numbers and hand-computed values."""

from __future__ import annotations

import asyncio

import pytest
import sacrebleu
from pydantic import TypeAdapter
from rapidfuzz import fuzz
from rouge_score import rouge_scorer

from runner.graders.base import GradeResult, Sample
from runner.graders.registry import grade
from runner.graders.text_similarity import cosine
from runner.specs.grader import GraderSpec
from tests.graders.conftest import ScriptedJudge, context

SPEC: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)
CANDIDATE = "the cat is on the mat"
REFERENCE = "the cat sat on the mat"


def _grade(
    metric: str,
    output: str = CANDIDATE,
    reference: str = REFERENCE,
    threshold: float = 0.5,
    judge: ScriptedJudge | None = None,
) -> GradeResult:
    body = {
        "type": "text_similarity",
        "input": "{{ sample.output_text }}",
        "reference": "{{ item.ref }}",
        "evaluation_metric": metric,
        "pass_threshold": threshold,
    }
    if metric == "cosine":
        body["embedding_model"] = "embedder"
    result = asyncio.run(grade(SPEC.validate_python(body), Sample(output), {"ref": reference}, context(judge)))
    assert result.error is None
    return result


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # rouge-score: 5 of 6 unigrams match both ways -> P = R = F = 5/6; LCS "the cat on the mat" = 5 tokens.
        ("rouge_1", 5 / 6),
        ("rouge_2", 3 / 5),  # bigrams: the-cat, on-the, the-mat of 5
        ("rouge_3", 1 / 4),  # trigrams: on-the-mat of 4
        ("rouge_4", 0.0),
        ("rouge_5", 0.0),
        ("rouge_l", 5 / 6),
        # Indel similarity: 1 - distance / total length; "is" -> "sat" costs 3 edits over 43 characters.
        ("fuzzy_match", 1 - 3 / 43),
        # sacrebleu's own sentence BLEU for this pair (exp smoothing): 37.99...
        ("bleu", 0.3799178428257963),
        # GLEU = min(precision, recall) over 1..4-grams: 5 + 3 + 1 + 0 = 9 matches of 18 n-grams on each side.
        ("gleu", 0.5),
    ],
)
def test_known_values(metric: str, expected: float) -> None:
    assert _grade(metric).score == pytest.approx(expected, abs=1e-9)


def test_scores_match_the_libraries_directly() -> None:
    rouge = rouge_scorer.RougeScorer(["rougeL"]).score(REFERENCE, CANDIDATE)["rougeL"].fmeasure
    assert _grade("rouge_l").score == pytest.approx(rouge)
    assert _grade("fuzzy_match").score == pytest.approx(fuzz.ratio(CANDIDATE, REFERENCE) / 100)
    assert _grade("bleu").score == pytest.approx(sacrebleu.sentence_bleu(CANDIDATE, [REFERENCE]).score / 100)


def test_identical_texts_score_one_and_disjoint_zero() -> None:
    for metric in ("fuzzy_match", "bleu", "gleu", "rouge_1", "rouge_l"):
        assert _grade(metric, REFERENCE, REFERENCE).score == pytest.approx(1.0), metric
    for metric in ("bleu", "gleu", "rouge_1", "rouge_l"):  # word metrics; fuzzy_match still shares letters
        assert _grade(metric, "zebra quokka", REFERENCE).score == pytest.approx(0.0, abs=0.05), metric


def test_meteor_matches_stems_and_penalises_order() -> None:
    exact = _grade("meteor", REFERENCE, REFERENCE).score
    stemmed = _grade("meteor", "the cats sat on the mat", REFERENCE).score
    substituted = _grade("meteor", "the dog sat on the mat", REFERENCE).score
    shuffled = _grade("meteor", "mat the on sat cat the", REFERENCE).score
    assert stemmed == exact  # Porter stems match: "cats" ~ "cat"
    assert exact > substituted > shuffled > 0
    assert exact == pytest.approx(0.9976, abs=1e-3)  # METEOR's fragmentation penalty keeps a perfect match below 1


def test_pass_threshold_is_inclusive() -> None:
    assert _grade("rouge_1", threshold=5 / 6).passed
    assert not _grade("rouge_1", threshold=5 / 6 + 1e-9).passed


def test_cosine_uses_the_embedding_model() -> None:
    judge = ScriptedJudge()
    result = _grade("cosine", "abc", "abd", judge=judge, threshold=0.6)
    assert result.score == pytest.approx(2 / 3)
    assert result.passed
    assert judge.calls[0][0] == "embedder"
    assert cosine([0.0, 0.0], [1.0, 2.0]) == 0.0


UNICODE_METRICS = ["bleu", "gleu", "rouge_1", "rouge_2", "rouge_l", "fuzzy_match"]


@pytest.mark.parametrize("metric", UNICODE_METRICS)
@pytest.mark.parametrize(
    "text", ["Привет, как дела сегодня", "我喜欢在公园里散步", "東京は今日も雨です", "Grüße aus Köln am Rhein"]
)
def test_identical_text_in_any_script_scores_one(metric: str, text: str) -> None:
    assert _grade(metric, text, text).score == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ["bleu", "gleu", "rouge_1", "rouge_l"])
def test_different_sentences_sharing_only_a_number_are_not_identical(metric: str) -> None:
    # rouge-score's own tokenizer keeps only [a-z0-9]: both sides were "2024", scored 1.0.
    score = _grade(metric, "Заказ доставлен в 2024", "Возврат оформлен 2024").score
    assert score < 0.5


@pytest.mark.parametrize("metric", ["bleu", "rouge_1", "rouge_l"])
def test_cjk_is_compared_character_by_character(metric: str) -> None:
    # Three of four characters agree: a partial score, not 0 (BLEU with sacrebleu's 13a on unsegmented CJK).
    assert 0.3 < _grade(metric, "我喜欢猫", "我喜欢狗").score < 1.0


def test_meteor_on_identical_cyrillic_matches_its_ascii_counterpart() -> None:
    assert _grade("meteor", "один два три", "один два три").score == pytest.approx(
        _grade("meteor", "one two three", "one two three").score
    )


def test_a_list_valued_reference_scores_the_best_match() -> None:
    spec = SPEC.validate_python(
        {
            "type": "text_similarity",
            "input": "{{ sample.output_text }}",
            "reference": "{{ item.ideal }}",
            "evaluation_metric": "rouge_l",
            "pass_threshold": 0.9,
        }
    )
    result = asyncio.run(grade(spec, Sample(CANDIDATE), {"ideal": ["a dog barked", CANDIDATE]}, context()))
    assert (result.score, result.passed, result.error) == (1.0, True, None)
