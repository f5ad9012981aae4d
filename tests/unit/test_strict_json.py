"""Reading JSON from outside (shared/strict_json.py): what parses in Python but would break
later is refused, with a reason; everything else reads as json.loads reads it."""

import json

import pytest

from shared.strict_json import MAX_DEPTH, nesting_depth, read_json


@pytest.mark.parametrize(
    "document, depth",
    [
        ('"text"', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[{{{"]', 1),  # brackets in strings do not count
        ('["\\"[[["]', 1),  # nor after an escaped quote
        ('["\\\\", [[]]]', 3),  # an escaped backslash does not escape the quote after it
        ('{"k\\"{": [1, [2]]}', 3),
    ],
)
def test_nesting_depth_counts_the_brackets_outside_strings(document, depth):
    assert nesting_depth(document.encode()) == depth


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": {"b": [1, 2.5, true, null, "\\u00e9\\ud83d\\ude00"]}}',
        b'["\\\\u0000"]',  # the text \u0000, no NUL
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode(),
        '{"name": "陳大文"}'.encode(),
    ],
)
def test_sound_json_reads_as_json_loads_reads_it(body):
    assert read_json(body) == json.loads(body)


@pytest.mark.parametrize(
    "body, reason",
    [
        (("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), "nested deeper than 32"),
        (b"[" * 100_000, "nested deeper than 32"),
        (b"[NaN]", "NaN"),
        (b"[-Infinity]", "Infinity"),
        (b"[1e999]", "too large"),
        (b"[" + b"9" * 5000 + b"]", "an integer of 5000 digits"),
        (b'{"a": 1, "a": 2}', "a key appears twice"),
        (b'["\xff"]', "not UTF-8"),
        (b'["\\ud800"]', "half a surrogate pair"),
        (b'{"\\udc00": 1}', "half a surrogate pair"),
        (b'["a\\u0000"]', "a NUL"),
        (b'{"a": ', "Expecting value"),
    ],
)
def test_what_would_break_later_is_refused_with_its_reason(body, reason):
    with pytest.raises(json.JSONDecodeError, match=reason) as refused:
        read_json(body)
    assert refused.value.doc  # an empty document would read as "no body" to webargs


def test_an_empty_body_is_refused_as_an_empty_document():
    with pytest.raises(json.JSONDecodeError) as refused:
        read_json(b"")
    assert refused.value.doc == ""
