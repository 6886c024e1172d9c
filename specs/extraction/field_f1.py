"""Field-level F1 of an extracted order against the expected one (a Flywheel `python` grader).

Runs in Flywheel's sandbox: no network, no secrets, time and memory limits. Facts compared: order_id,
customer_name, total, currency, and each (item name, quantity) pair; null fields are not facts.
"""

import json


def _facts(order):
    facts = set()
    if not isinstance(order, dict):
        return facts
    for key in ("order_id", "customer_name", "currency"):
        value = order.get(key)
        if isinstance(value, str) and value.strip():
            facts.add((key, value.strip().lower()))
    total = order.get("total")
    if isinstance(total, int | float) and not isinstance(total, bool):
        facts.add(("total", round(float(total), 2)))
    for entry in order.get("items") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            facts.add(("item", entry["name"].strip().lower(), entry.get("quantity")))
    return facts


def grade(sample, item):
    predicted = sample.get("output_json")
    if predicted is None:
        try:
            predicted = json.loads(sample.get("output_text") or "")
        except ValueError:
            return 0.0
    got, want = _facts(predicted), _facts(item["expected"])
    if not got and not want:
        return 1.0
    hits = len(got & want)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(got), hits / len(want)
    return 2 * precision * recall / (precision + recall)
