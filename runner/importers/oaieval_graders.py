"""Python graders that score exactly as openai/evals' own matchers (evals 3.0.1, `evals/elsuite/basic/` and
`evals/elsuite/utils.py`), ported line for line. Each handles a list-valued `ideal` as evals does: the sample
passes when it matches any of the answers."""

MATCH = '''"""openai/evals Match: the completion starts with one of the ideal answers
(evals.api.record_and_check_match)."""


def grade(sample, item):
    ideal = item["ideal"]
    options = list(ideal) if isinstance(ideal, (list, tuple)) else [ideal]
    sampled = sample["output_text"]
    return 1.0 if any(sampled.startswith(option) for option in options) else 0.0
'''

INCLUDES = '''"""openai/evals Includes: one of the ideal answers occurs in the completion
(evals.elsuite.utils.get_answer)."""

IGNORE_CASE = {ignore_case}


def grade(sample, item):
    ideal = item["ideal"]
    options = ideal if isinstance(ideal, list) else [ideal]
    text = sample["output_text"]
    if IGNORE_CASE:
        return 1.0 if any(text.lower().rfind(option.lower()) != -1 for option in options) else 0.0
    return 1.0 if any(text.rfind(option) != -1 for option in options) else 0.0
'''

_NORMALIZE = '''import re
import string


def normalize(s):
    """Lower text and remove punctuation, articles and extra whitespace (evals.elsuite.utils.normalize)."""
    s = s.lower()
    exclude = set(string.punctuation)
    s = "".join(char for char in s if char not in exclude)
    s = re.sub(r"\\b(a|an|the)\\b", " ", s)
    s = " ".join(s.split())
    return s
'''

FUZZY_MATCH = (
    '''"""openai/evals FuzzyMatch accuracy: after normalising, one of completion and an ideal answer contains the
other (evals.elsuite.utils.fuzzy_match)."""

'''
    + _NORMALIZE
    + """

def fuzzy_match(s1, s2):
    s1 = normalize(s1)
    s2 = normalize(s2)
    if s1 == "" or s2 == "":
        return s1 == s2
    return s1 in s2 or s2 in s1


def grade(sample, item):
    ideal = item["ideal"]
    answers = ideal if isinstance(ideal, list) else [ideal]
    return 1.0 if any(fuzzy_match(sample["output_text"], answer) for answer in answers) else 0.0
"""
)

F1 = (
    '''"""openai/evals FuzzyMatch f1_score: the best token F1 of the completion against the ideal answers
(evals.elsuite.utils.f1_score)."""

from collections import Counter

'''
    + _NORMALIZE
    + """

def _f1_score(prediction, ground_truth):
    prediction_tokens = normalize(prediction).split()
    ground_truth_tokens = normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def grade(sample, item):
    ideal = item["ideal"]
    answers = ideal if isinstance(ideal, list) else [ideal]
    return float(max(_f1_score(sample["output_text"], answer) for answer in answers))
"""
)

JSON_MATCH = '''"""openai/evals JsonMatch: the completion parses as JSON and equals one of the ideal answers
component by component (evals.elsuite.basic.json_match.json_match)."""

import json


def json_match(sampled_json, correct_json):
    if sampled_json is None or correct_json is None:
        return False
    if isinstance(sampled_json, dict):
        if isinstance(correct_json, dict):
            all_keys = set(sampled_json.keys()) | set(correct_json.keys())
            return all(json_match(sampled_json.get(key), correct_json.get(key)) for key in all_keys)
        return False
    if isinstance(sampled_json, list):
        if isinstance(correct_json, list):
            if len(sampled_json) != len(correct_json):
                return False
            return all(json_match(s, c) for s, c in zip(sampled_json, correct_json))
        return False
    return sampled_json == correct_json


def grade(sample, item):
    ideal = item["ideal"]
    answers = ideal if isinstance(ideal, list) else [ideal]
    try:
        sampled_json = json.loads(sample["output_text"])
    except ValueError:
        sampled_json = None
    return 1.0 if any(json_match(sampled_json, json.loads(answer)) for answer in answers) else 0.0
'''
