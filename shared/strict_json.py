"""JSON from outside, read so that nothing read can break later.

Python's json module accepts documents that no request of ours means and that fail far from
the parser: nesting a thousand levels deep exhausts the stack (while parsing, or later while
storing or answering), NaN and Infinity pass number fields, a 5,000-digit integer stops the
parser with a ValueError of its own, a key given twice means whatever the last one says, and
strings may hold half a UTF-16 surrogate pair (which no database can store as UTF-8) or a NUL
(which PostgreSQL refuses). `read_json` refuses them all as json.JSONDecodeError, which the
request parser answers with a 400.
"""

import json
import math
import re

# Our deepest request (a batch of scans, a registration's answers) is four levels deep.
MAX_DEPTH = 32
# Far beyond any number of ours (the schemas hold each field to its range); longer ones only
# cost time to convert.
MAX_INTEGER_DIGITS = 100

_EVERYTHING_BUT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# The escapes that can put a NUL or a surrogate in a string (raw bytes cannot: UTF-8 decoding
# and the parser refuse them); only documents holding one have their strings looked at.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def read_json(body: bytes):
    """The document in `body` (UTF-8), or json.JSONDecodeError saying why it is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        shown = body.decode("utf-8", "replace")
        raise json.JSONDecodeError(f"not UTF-8 ({error.reason})", shown, error.start) from error
    if nesting_depth(body) > MAX_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", text, 0)
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_finite_number,
            parse_constant=_constant,
        )
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(str(error), text, 0) from error
    if _SUSPECT_ESCAPE.search(text) and not all(map(_storable, _strings(document))):
        raise json.JSONDecodeError("a string holds a NUL or half a surrogate pair", text, 0)
    return document


def nesting_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON document nest, counted without parsing it
    (so without recursion): brackets inside strings do not count."""
    # Escaped backslashes first, so that in \\" the quote still ends its string.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    depth = deepest = 0
    for bracket in outside_strings.translate(None, _EVERYTHING_BUT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _strings(document):
    """Every string in the document, keys included (iteratively: no recursion)."""
    waiting = [document]
    while waiting:
        value = waiting.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            waiting.extend(value)
            waiting.extend(value.values())
        elif isinstance(value, list):
            waiting.extend(value)


def _storable(text: str) -> bool:
    """Holding neither a NUL nor a lone surrogate (which UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _object(pairs: list[tuple[str, object]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return found


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is too large")
    return int(text)


def _finite_number(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number is too large")
    return number


def _constant(name: str):
    raise ValueError(f"{name} is not a number JSON knows")
