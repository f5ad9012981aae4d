"""Bad input, property-based (issue 8): schemathesis against each service's OpenAPI document.

For every operation of `/api/{registration,ticketing,checkin}/openapi.json`, schemathesis
sends the coverage phase's boundary and invalid values, then `LOOPGATE_FUZZ_EXAMPLES` (default
150) Hypothesis-generated requests, valid and invalid, over real HTTP to one embedded Loopgate.
Real ids and secrets are mixed into the requests (fuzzing.RealValues) so they get beyond 404,
mostly as the organiser. Every response must:

- not be a 5xx (not_a_server_error);
- if 4xx or 5xx, be application/problem+json with type, title and status (problem_details);
- have a documented content type (content_type_conformance);
- match the documented schema (response_schema_conformance).

Each operation is one test (`test_openapi_fuzz[service][METHOD /path]`). A failing one stops
at its first failure, which Hypothesis shrinks, and reports the smallest failing request (a
curl command) with the product's own log of it (its traceback, found by the X-Correlation-ID
the request was sent with). The summary at the end counts the requests sent per operation
(shrinking included) by phase, mode and status, and lists every distinct failure.

Runs with `make fuzz` (LOOPGATE_FUZZ=1); skipped otherwise. LOOPGATE_FUZZ_SEED replays a run;
the OpenAPI documents are read from the apps when the module is collected.
"""

import os
import random
import time

import pytest

if os.environ.get("LOOPGATE_FUZZ") != "1":
    pytest.skip("fuzzing runs with `make fuzz` (LOOPGATE_FUZZ=1)", allow_module_level=True)

import schemathesis  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from tests.fuzz.fuzzing import (  # noqa: E402
    CORRELATION_HEADER,
    TALLIES,
    WORLD,
    drawn_realistic,
    fixed_realistic,
    new_correlation_id,
    openapi_documents,
    problem_details,
)

MAX_EXAMPLES = int(os.environ.get("LOOPGATE_FUZZ_EXAMPLES", "150"))
SEED = int(os.environ.get("LOOPGATE_FUZZ_SEED") or random.randrange(2**31))  # noqa: S311
TALLIES.seed = SEED
CHECKS = [
    not_a_server_error,
    problem_details,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Health checks judge the generator (slow or filtered data), not the API.
            "suppress-health-check": ["all"],
            "request-timeout": 30,
            # Server-sent event streams (the live stats) are read up to their first event.
            "max-stream-events": 1,
            # The secrets in the requests are test fixtures; reports show them as sent.
            "output": {"sanitization": {"enabled": False}},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )


def flatmap_case(context, case):
    # Fuzzing phase: Hypothesis draws which real values go in, so failures shrink and replay.
    return drawn_realistic(WORLD.values, case)


# The documents are read from the services' apps when this module is collected (one test per
# operation needs them then); the requests go to the populated Loopgate of `fuzz_world`.
SCHEMAS = {
    service: schemathesis.openapi.from_dict(document, config=fuzz_config())
    for service, document in openapi_documents().items()
}
for _schema in SCHEMAS.values():
    _schema.hook(flatmap_case)


@pytest.mark.fuzz
@pytest.mark.timeout(900)
@schemathesis.pytest.parametrize(**SCHEMAS)
def test_openapi_fuzz(case, fuzz_world):
    flow, values, errors = fuzz_world
    if case.meta is None or case.meta.phase.name.value != "fuzzing":
        # Coverage and examples cases are fixed when collected, before there is a Loopgate:
        # real values go in now, chosen from the case itself.
        fixed_realistic(values, case)
    correlation_id = new_correlation_id()
    headers = {CORRELATION_HEADER: correlation_id}
    response = None
    started = time.perf_counter()
    try:
        response = case.call(base_url=flow.base_url, headers=headers)
    except Exception as exc:
        TALLIES.record(case, None, time.perf_counter() - started)
        TALLIES.finding(
            case,
            None,
            [f"request failed: {exc!r}"],
            _curl(case, flow, headers),
            errors.take(correlation_id),
        )
        raise
    TALLIES.record(case, response, time.perf_counter() - started)
    try:
        case.validate_response(
            response, checks=CHECKS, headers=headers, transport_kwargs={"base_url": flow.base_url}
        )
    except FailureGroup as group:
        product_log = errors.take(correlation_id)
        TALLIES.finding(
            case,
            response,
            [_failure_text(failure) for failure in group.exceptions],
            _curl(case, flow, headers),
            product_log,
        )
        # Raised as an ExceptionGroup, not schemathesis's FailureGroup (a BaseException,
        # which Hypothesis lets through at once), so Hypothesis shrinks the failing request.
        error = ExceptionGroup(group.message, list(group.exceptions))
        if product_log:
            error.add_note(f"Product log of this request ({correlation_id}):\n{product_log}")
        raise error from None
    errors.take(correlation_id)


def _failure_text(failure) -> str:
    title = getattr(failure, "title", type(failure).__name__)
    message = getattr(failure, "message", str(failure))
    return f"{title}: {message}" if message else title


def _curl(case, flow, headers) -> str:
    try:
        return case.as_curl_command(headers=headers, base_url=flow.base_url)
    except Exception as exc:  # the command is for the report only
        return f"<no curl command: {exc!r}> {case!r}"
