"""The OpenAPI fuzz tests (`make fuzz`): schemathesis against each service's OpenAPI document
on one populated embedded Loopgate.

They run only with LOOPGATE_FUZZ=1 (`make fuzz` sets it), so a plain `make test` skips them.
"""

import logging
import sys
import time

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "fuzz: schemathesis runs against the services' OpenAPI documents "
        "(make fuzz; skipped unless LOOPGATE_FUZZ=1)",
    )
    # Hypothesis notes any change of the global `random` state while it draws a case; the
    # Loopgate under test runs in this process, and its threads' use of `random` is no fault
    # of the strategies.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning",
    )


def pytest_collection_modifyitems(config, items):
    # schemathesis names each operation's test `test_openapi_fuzz[service][METHOD /path]`, but
    # pytest 9.2 builds node ids from the original function name alone, which would give all of
    # them the same id in reports; give each its full name back.
    for item in items:
        if item.get_closest_marker("fuzz") and not item.nodeid.endswith(item.name):
            try:
                from _pytest.nodeid import NodeId
            except ImportError:  # before pytest 9.2 the ids were right
                return
            item._id = NodeId.parse(f"{item.parent.nodeid}::{item.name}")


@pytest.fixture(scope="session")
def fuzz_world(tmp_path_factory):
    """One embedded Loopgate on a real port for the whole fuzz run, with real objects in it
    (see fuzzing.populate), and the error log of its requests."""
    from services.system import embedded_system
    from shared.settings import Settings
    from tests.fuzz.fuzzing import TALLIES, WORLD, ErrorLog, populate
    from tests.support import ORGANISER_TOKEN, CoreFlow, ServedApp

    settings = Settings.from_env(
        {
            "LOOPGATE_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
            "LOOPGATE_BOOTSTRAP_TOKEN": ORGANISER_TOKEN,
            "LOOPGATE_RATE_LIMIT": "off",
        }
    )
    system = embedded_system(settings)
    system.start()
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with ServedApp(system.app) as served:
            flow = CoreFlow(served.url)
            values = populate(flow)
            WORLD.values = values
            TALLIES.real_values = values.describe()
            TALLIES.notes = values.notes
            TALLIES.started = time.monotonic()
            yield flow, values, errors
            TALLIES.finished = time.monotonic()
    finally:
        logging.getLogger().removeHandler(errors)
        system.stop()


def pytest_terminal_summary(terminalreporter):
    fuzzing = sys.modules.get("tests.fuzz.fuzzing")
    if fuzzing is None or not fuzzing.TALLIES.operations:
        return
    TALLIES = fuzzing.TALLIES  # noqa: N806
    write = terminalreporter.write_line
    terminalreporter.section("OpenAPI fuzzing (schemathesis)")
    if TALLIES.seed is not None:
        write(f"seed: {TALLIES.seed} (LOOPGATE_FUZZ_SEED={TALLIES.seed} replays this run)")
    write(f"real values offered to the fuzzer: {TALLIES.real_values}")
    for note in TALLIES.notes:
        write(f"note: {note}")
    total = 0
    request_seconds = 0.0
    write(f"{'operation':<66} {'cases':>6} {'cov':>5} {'fuzz':>5} {'neg':>5} {'s':>6}  statuses")
    for label, tally in sorted(TALLIES.operations.items(), key=lambda item: item[0].split()[1]):
        total += tally.cases
        request_seconds += tally.seconds
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(tally.statuses.items(), key=str))
        write(
            f"{label:<66} {tally.cases:>6} {tally.phases.get('coverage', 0):>5} "
            f"{tally.phases.get('fuzzing', 0):>5} {tally.modes.get('negative', 0):>5} "
            f"{tally.seconds:>6.1f}  {statuses}"
        )
    elapsed = ""
    if TALLIES.started is not None:
        end = TALLIES.finished or time.monotonic()
        elapsed = f" in {end - TALLIES.started:.0f}s"
    write(
        f"{total} cases over {len(TALLIES.operations)} operations{elapsed} "
        f"({request_seconds:.0f}s waiting for responses)"
    )
    if not TALLIES.findings:
        write("no failures")
        return
    write(
        f"{len(TALLIES.findings)} distinct failures "
        "(each with its last request: the smallest, once Hypothesis has shrunk it):"
    )
    for number, finding in enumerate(TALLIES.findings.values(), 1):
        write("")
        write(f"[{number}] {finding.operation} -> {finding.status} ({finding.occurrences}x)")
        for failure in finding.failures:
            write("    " + failure.replace("\n", "\n    "))
        write(f"    request: {finding.request}")
        write(f"    response body: {finding.body}")
        if finding.traceback:
            write("    product log:")
            write("      " + finding.traceback.rstrip().replace("\n", "\n      "))
