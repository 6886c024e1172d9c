"""The python grader that scores promptfoo's deterministic assertions as promptfoo does (src/assertions/
contains.ts, equals.ts, regex.ts, json.ts, startsWith.ts): a test passes when every one of its assertions
does, `not-` inverting one."""

ASSERTIONS = '''"""promptfoo's deterministic assertions, ported from promptfoo's src/assertions/*.ts: the
item's `asserts` all pass (a `not-` prefix inverts one). Regexes are Python's `re`, which agrees with
JavaScript's on common patterns."""

import json
import re


def _json(text):
    def refuse(name):  # JSON.parse rejects NaN and Infinity; Python's json accepts them
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def _values(value):
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _schema_ok(value, data):
    if value in (None, ""):
        return True
    import jsonschema  # only when a schema is given

    return jsonschema.Draft202012Validator(value).is_valid(data)


def _objects(text):
    """Balanced top-level JSON objects and arrays in `text` that parse as they are."""
    found = []
    depth, start, in_string, escaped = 0, -1, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch in "{[":
            if depth == 0:
                start = i
            depth += 1
        elif ch in "}]" and depth > 0:
            depth -= 1
            if depth == 0:
                try:
                    found.append(_json(text[start : i + 1]))
                except ValueError:
                    pass
    return found


def _check(kind, value, output):
    if kind == "equals":
        if isinstance(value, (dict, list)):
            try:
                return _json(output) == value
            except ValueError:
                return False
        return output == str(value)
    if kind == "contains":
        return str(value) in output
    if kind == "icontains":
        return str(value).lower() in output.lower()
    if kind == "contains-any":
        return any(v in output for v in _values(value))
    if kind == "icontains-any":
        return any(v.lower() in output.lower() for v in _values(value))
    if kind == "contains-all":
        return all(v in output for v in _values(value))
    if kind == "icontains-all":
        return all(v.lower() in output.lower() for v in _values(value))
    if kind == "starts-with":
        return output.startswith(str(value))
    if kind == "regex":
        return re.search(str(value), output) is not None
    if kind == "is-json":
        try:
            data = _json(output)
        except ValueError:
            return False
        return _schema_ok(value, data)
    if kind == "contains-json":
        objects = _objects(output)
        return any(_schema_ok(value, o) for o in objects) if value not in (None, "") else bool(objects)
    raise ValueError("unsupported assertion " + kind)


def grade(sample, item):
    output = sample["output_text"]
    for assertion in item["asserts"]:
        kind = assertion["type"]
        inverse = kind.startswith("not-")
        if _check(kind[4:] if inverse else kind, assertion.get("value"), output) == inverse:
            return 0.0
    return 1.0
'''
