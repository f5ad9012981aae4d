"""One table of every headline benchmark figure, run last by `make bench`.

It measures nothing: it reads the JSON that each benchmark wrote to bench/results/ and prints
each figure next to the reference measured in the same run (a bare Flask endpoint, a health
check), their ratio (figure / reference), and the target of the issue that set one, met or
not. The table is saved as bench/results/summary.json.

The benchmarks change; their files are read defensively: a missing file, key or number makes
its row say so instead of stopping the summary.
"""

import json
import operator
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

MISSING = object()
COMPARISONS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, "==": operator.eq}


@dataclass(frozen=True)
class Target:
    """`of` ("value" or "ratio") `op` `bound`, and where the target comes from."""

    op: str
    bound: float
    source: str
    of: str = "value"

    def __str__(self) -> str:
        return f"{'ratio ' if self.of == 'ratio' else ''}{self.op} {self.bound:g} ({self.source})"


@dataclass
class Row:
    figure: str
    unit: str
    value: float | None
    reference: str | None = None
    reference_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None  # None: no target, or the figure is missing
    source: str = ""
    note: str | None = None


def load(name: str):
    """The benchmark's JSON, or MISSING when it has not run (or wrote something unreadable)."""
    try:
        return json.loads((RESULTS / name).read_text())
    except (OSError, ValueError):
        return MISSING


def number(data, *paths: str) -> float | None:
    """The first of the dotted `paths` that leads to a number in `data`, else None."""
    for path in paths:
        node = data
        for key in path.split("."):
            node = node.get(key, MISSING) if isinstance(node, dict) else MISSING
        if isinstance(node, int | float) and not isinstance(node, bool):
            return float(node)
    return None


@dataclass(frozen=True)
class Figure:
    """A headline figure: where it is in its benchmark's JSON (a dotted path), its reference
    (a name, and a dotted path or a fixed number) and its target."""

    name: str
    unit: str
    path: str
    reference: tuple[str, str | float] | None = None
    target: Target | None = None


def row(data, source: str, figure: Figure) -> Row:
    value = number(data, figure.path)
    reference_name, reference_value = None, None
    if figure.reference:
        reference_name, where = figure.reference
        reference_value = number(data, where) if isinstance(where, str) else float(where)
    ratio = round(value / reference_value, 3) if value is not None and reference_value else None
    target, met = figure.target, None
    if target is not None:
        judged = ratio if target.of == "ratio" else value
        met = None if judged is None else COMPARISONS[target.op](judged, target.bound)
    return Row(
        figure=figure.name,
        unit=figure.unit,
        value=value,
        reference=reference_name,
        reference_value=reference_value,
        ratio=ratio,
        target=str(target) if target else None,
        met=met,
        source=source,
        note="figure missing" if value is None else None,
    )


def ticket_drop(data) -> list[Figure]:
    return [
        Figure(
            "ticket drop: confirmed registrations",
            "/min",
            "registration.confirmed_per_minute",
            ("bare Flask requests/min", "bare_flask.requests_per_minute"),
            Target(">=", 12_000, "#5"),
        ),
        Figure(
            "ticket drop: p99",
            "ms",
            "registration.p99_ms",
            ("bare Flask p99", "bare_flask.p99_ms"),
            Target("<", 300, "#5"),
        ),
        Figure(
            "ticket drop: oversold",
            "places",
            "registration.oversold",
            None,
            Target("==", 0, "#5"),
        ),
    ]


def pipeline_latency(data) -> list[Figure]:
    figures = []
    for mode in ("embedded", "distributed"):
        health = ("health round trip", f"{mode}.health_round_trip_ms")
        # #4: "within a second ticketing has issued a ticket"
        figures.append(Figure(f"pipeline ({mode}): p50", "ms", f"{mode}.p50_ms", health))
        figures.append(
            Figure(
                f"pipeline ({mode}): p99",
                "ms",
                f"{mode}.p99_ms",
                health,
                Target("<", 1000, "#4"),
            )
        )
    return figures


def scan_rates(data) -> list[Figure]:
    pace = number(data, "paced_rate", "checkin_paced.paced_rate", "checkin_paced.target_rate")
    pace = pace or 200.0  # what bench/scan_rates.py paces at (PACED_RATE)
    return [
        Figure(
            "scans at full speed",
            "/s",
            "checkin_full_speed.scans_per_second",
            ("bare Flask scans/s", "bare_flask.scans_per_second"),
            Target(">=", 0.25, "#7", of="ratio"),
        ),
        Figure(
            "scan server CPU",
            "ms/scan",
            "checkin_full_speed.server_cpu_ms_per_scan",
            ("bare Flask ms/scan", "bare_flask.server_cpu_ms_per_scan"),
        ),
        Figure(
            f"scans paced at {pace:g}/s: reached",
            "/s",
            "checkin_paced.scans_per_second",
            ("pace asked", pace),
            # The rate counts until the last answer is in, so a run that kept the pace
            # reaches a little under it.
            Target(">=", 0.98, "#7", of="ratio"),
        ),
        Figure(
            f"scans paced at {pace:g}/s: p99",
            "ms",
            "checkin_paced.p99_ms",
            ("bare Flask p99", "bare_flask.p99_ms"),
            Target("<", 25, "#7"),
        ),
        Figure(
            "offline batch of 10,000 scans",
            "s",
            "offline_batch.seconds",
            None,
            Target("<", 3, "#7"),
        ),
    ]


def ticketing_rates(data) -> list[Figure]:
    healthz = ("healthz served/s", "qr_images.healthz_served_per_second")
    rates = [
        ("tickets issued by the consumer", "issuing.issued_per_second"),
        ("tickets issued, QR rendered and mailed", "issuing.issued_rendered_and_mailed_per_second"),
        ("stored QR PNG served", "qr_images.png_served_per_second"),
        ("stored QR SVG served", "qr_images.svg_served_per_second"),
    ]
    return [Figure(name, "/s", path, healthz) for name, path in rates] + [
        Figure(
            "QR version at error correction M",
            "",
            "qr_images.qr_version",
            None,
            Target("<=", 8, "DESIGN.md"),
        )
    ]


def idle_memory(data) -> list[Figure]:
    bare = ("bare Flask under gunicorn", "bare_flask_gunicorn_mib")
    figures = [Figure("idle memory: embedded", "MiB", "embedded_mib", bare)]
    distributed = data.get("distributed") if isinstance(data, dict) else None
    for service, processes in (distributed if isinstance(distributed, dict) else {}).items():
        for process in processes if isinstance(processes, dict) else {}:
            path = f"distributed.{service}.{process}"
            if number(data, path):  # the gateway has no worker (0)
                figures.append(Figure(f"idle memory: {service} {process}", "MiB", path, bare))
    return figures


BENCHMARKS = {
    "ticket_drop.json": ("ticket drop", ticket_drop),
    "pipeline_latency.json": ("pipeline latency", pipeline_latency),
    "scan_rates.json": ("scans", scan_rates),
    "ticketing_rates.json": ("ticketing", ticketing_rates),
    "idle_memory.json": ("idle memory", idle_memory),
}


def not_run(what: str, source: str) -> Row:
    return Row(figure=what, unit="", value=None, source=source, note=f"no {source}: not run")


def summary() -> list[Row]:
    rows = []
    for source, (what, figures) in BENCHMARKS.items():
        data = load(source)
        if data is MISSING:
            rows.append(not_run(what, source))
        else:
            rows += [row(data, source, figure) for figure in figures(data)]
    return rows


def _shown(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    header = ("figure", "value", "reference", "ratio", "target", "met")
    lines = [
        (
            r.figure,
            r.note if r.value is None else _shown(r.value, r.unit),
            f"{r.reference} {_shown(r.reference_value)}" if r.reference else "",
            _shown(r.ratio),
            r.target or "",
            {True: "yes", False: "NO", None: ""}[r.met],
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("-" * width for width in widths)
    out = ["  ".join(str(cell).ljust(w) for cell, w in zip(header, widths, strict=True)), rule]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(line.rstrip() for line in out)


def main() -> int:
    rows = summary()
    targets = [r for r in rows if r.target]
    met = sum(r.met is True for r in targets)
    unknown = sum(r.met is None for r in targets)
    print("\nbenchmark summary (ratio = figure / reference measured in the same run)\n")
    print(table(rows))
    print(
        f"\ntargets met: {met} of {len(targets)}"
        + (f" ({unknown} without a figure)" * bool(unknown))
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets_met": met,
        "targets": len(targets),
        "rows": [asdict(r) for r in rows],
    }
    (RESULTS / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
