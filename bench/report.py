"""Medians over rounds, the readable table and the PNG of throughput and latency over time."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    label: str
    path: str
    unit: str
    baseline_label: str = ""
    baseline_path: str = ""
    target: str = ""
    # (median value, median of the per-round ratios) -> met?
    meets: Callable[[float, float], bool] | None = None


FIGURES = (
    Figure(
        "Requests/s, whole sale (all answers)",
        "sale.requests_per_second",
        "req/s",
        "single service req/s",
        "baselines.single_service.requests_per_second",
    ),
    Figure(
        "Max sustained booking rate (answers/s until the last 202)",
        "sale.max_sustained_rate",
        "req/s",
        "minimal endpoint req/s",
        "baselines.minimal_endpoint.requests_per_second",
    ),
    Figure(
        "Confirmed bookings/s end to end",
        "sale.confirmed_bookings_per_second",
        "/s",
        "single service confirmed/s",
        "baselines.single_service.confirmed_bookings_per_second",
        ">= 1.0x single service",
        lambda _, ratio: ratio >= 1.0,
    ),
    Figure("202 latency p50 (sale, closed loop)", "sale.accepted_latency.p50_ms", "ms"),
    Figure("202 latency p95 (sale, closed loop)", "sale.accepted_latency.p95_ms", "ms"),
    Figure(
        "202 latency p99 (sale, closed loop)",
        "sale.accepted_latency.p99_ms",
        "ms",
        "single service p99",
        "baselines.single_service.p99_ms",
    ),
    Figure(
        "202 latency p99 at half the max rate (open loop)",
        "sale.half_rate.accepted_latency.p99_ms",
        "ms",
        target="< 50 ms",
        meets=lambda value, _: value < 50,
    ),
    Figure("Half-rate phase: offered rate", "sale.half_rate.target_rate", "req/s"),
    Figure("Time to final state p50", "sale.time_to_final.p50_ms", "ms"),
    Figure("Time to final state p95", "sale.time_to_final.p95_ms", "ms"),
    Figure("Time to final state p99", "sale.time_to_final.p99_ms", "ms"),
    Figure(
        "Time to final state visible via API p50 (sampled)",
        "sale.time_to_final_visible_sampled.p50_ms",
        "ms",
    ),
    Figure(
        "Time to final state visible via API p99 (sampled)",
        "sale.time_to_final_visible_sampled.p99_ms",
        "ms",
    ),
    Figure("Projection lag p50 (bucket-interpolated)", "sale.projection_lag.p50_ms", "ms"),
    Figure(
        "Projection lag p99 (bucket-interpolated)",
        "sale.projection_lag.p99_ms",
        "ms",
        target="< 250 ms",
        meets=lambda value, _: value < 250,
    ),
    Figure(
        "Sold-out answers/s",
        "sale.sold_out.requests_per_second",
        "req/s",
        "minimal endpoint req/s",
        "baselines.minimal_endpoint.requests_per_second",
        ">= 0.5x minimal endpoint",
        lambda _, ratio: ratio >= 0.5,
    ),
    Figure("Sold-out answer p99", "sale.sold_out.p99_ms", "ms"),
    Figure("Rejected share of sale requests", "sale.rejections.share_of_requests", "ratio"),
    Figure("Baseline: minimal endpoint", "baselines.minimal_endpoint.requests_per_second", "req/s"),
    Figure(
        "Baseline: PostgreSQL single-row insert tx",
        "baselines.postgres_inserts.transactions_per_second",
        "tx/s",
    ),
    Figure("Baseline: aiokafka produce", "baselines.kafka_produce.messages_per_second", "msg/s"),
    Figure(
        "Baseline: single service requests/s",
        "baselines.single_service.requests_per_second",
        "req/s",
    ),
    Figure(
        "Baseline: single service confirmed/s (sell-out window)",
        "baselines.single_service.confirmed_bookings_per_second",
        "/s",
    ),
)


def lookup(document: dict[str, Any], path: str) -> float:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return math.nan
        value = value[part]
    return float(value) if isinstance(value, int | float) else math.nan


def median(values: list[float]) -> float:
    present = [value for value in values if not math.isnan(value)]
    return statistics.median(present) if present else math.nan


def median_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for figure in FIGURES:
        value = median([lookup(one, figure.path) for one in rounds])
        entry: dict[str, Any] = {"value": value, "unit": figure.unit, "path": figure.path}
        if figure.baseline_path:
            # Each round's ratio against its own baselines, then the median: the machine's
            # load changes between rounds, within a round it is shared alike.
            per_round = [
                lookup(one, figure.path) / base
                for one in rounds
                if (base := lookup(one, figure.baseline_path))
            ]
            entry.update(
                baseline=median([lookup(one, figure.baseline_path) for one in rounds]),
                baseline_label=figure.baseline_label,
                ratio=median(per_round),
                ratios_per_round=per_round,
            )
        if figure.meets is not None:
            entry.update(
                target=figure.target, met=figure.meets(value, entry.get("ratio", math.nan))
            )
        figures[figure.label] = entry
    invariants: dict[str, Any] = {}
    for one in rounds:
        for name, check in one["sale"]["invariants"].items():
            invariants.setdefault(name, []).append(check["passed"])
    return {
        "figures": figures,
        "invariants": {name: all(passed) for name, passed in invariants.items()},
    }


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:,.0f} {unit}"


def table_lines(report: dict[str, Any]) -> list[str]:
    summary = report["median"]
    lines = [
        "| figure (median of rounds) | platform | baseline | ratio (per-round median) | target |",
        "|---|---|---|---|---|",
    ]
    for label, entry in summary["figures"].items():
        baseline = ""
        ratio = ""
        if "baseline" in entry:
            baseline = f"{_number(entry['baseline'], entry['unit'])} ({entry['baseline_label']})"
            ratio = "n/a" if math.isnan(entry["ratio"]) else f"{entry['ratio']:.2f}x"
        target = ""
        if "target" in entry:
            target = f"{entry['target']}: {'met' if entry['met'] else 'MISSED'}"
        lines.append(
            f"| {label} | {_number(entry['value'], entry['unit'])} | {baseline} | {ratio} "
            f"| {target} |"
        )
    lines.append("")
    lines.append("| invariant (every round) | result |")
    lines.append("|---|---|")
    for name, passed in summary["invariants"].items():
        lines.append(f"| {name} | {'PASS' if passed else 'FAIL'} |")
    return lines


def print_table(report: dict[str, Any]) -> None:
    configuration = report["configuration"]
    machine = report["machine"]
    print(
        f"\nFlash sale: {configuration['capacity']} tickets, {configuration['requests']} "
        f"requests, concurrency {configuration['concurrency']}, {configuration['users']} "
        f"users, {len(report['rounds'])} round(s)"
    )
    print(
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}"
    )
    for note in configuration["notes"]:
        print(f"  - {note}")
    print()
    print("\n".join(table_lines(report)))
    for round_report in report["rounds"]:
        for name, check in round_report["sale"]["invariants"].items():
            verdict = "PASS" if check["passed"] else "FAIL"
            print(f"round {round_report['round']} {verdict} {name}: {check['detail']}")
    for name, profile in report.get("profile", {}).items():
        print(f"\nprofile {name} ({profile['samples']} samples), own time:")
        for frame, share in profile["own_time_top"][:8]:
            print(f"  {share:5.1f}%  {frame}")
        print("  project code, inclusive:")
        for frame, share in profile["project_inclusive_top"][:8]:
            print(f"  {share:5.1f}%  {frame}")


def _per_second(
    timeline: list[tuple[float, float, int]], keep: Callable[[int], bool]
) -> tuple[list[int], list[int]]:
    counts: dict[int, int] = {}
    for at, _, status in timeline:
        if keep(status):
            counts[int(at)] = counts.get(int(at), 0) + 1
    if not counts:
        return [], []
    seconds = list(range(max(counts) + 1))
    return seconds, [counts.get(second, 0) for second in seconds]


def draw_png(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = report["rounds"][-1]
    sale = last["sale"]
    timeline = [(float(a), float(b), int(c)) for a, b, c in sale["timeline"]]
    single = [
        (float(a), float(b), int(c)) for a, b, c in last["baselines"]["single_service"]["timeline"]
    ]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for label, keep, style in (
        ("platform 202 accepted/s", lambda status: status == 202, "-"),
        ("platform 409 sold-out/s", lambda status: status == 409, "-"),
        ("platform other/s", lambda status: status not in (202, 409), ":"),
    ):
        seconds, counts = _per_second(timeline, keep)
        if seconds:
            top.plot(seconds, counts, style, label=label)
    confirmed: dict[int, int] = {}
    for at in sale["confirmed_timeline"]:
        confirmed[int(at)] = confirmed.get(int(at), 0) + 1
    if confirmed:
        seconds = list(range(max(confirmed) + 1))
        top.plot(
            seconds,
            [confirmed.get(second, 0) for second in seconds],
            "-",
            linewidth=2,
            label="platform CONFIRMED/s (event store time)",
        )
    seconds, counts = _per_second(single, lambda status: status == 201)
    if seconds:
        top.plot(
            seconds, counts, "--o", markersize=4, label="single-service baseline 201 confirmed/s"
        )
    top.set_ylabel("per second")
    top.set_title(
        f"Flash sale: {report['configuration']['capacity']} tickets, "
        f"{report['configuration']['requests']} requests, concurrency "
        f"{report['configuration']['concurrency']} (round {last['round']})"
    )
    top.legend(loc="upper right", fontsize=8)
    top.grid(alpha=0.3)

    buckets: dict[int, list[float]] = {}
    accepted: dict[int, list[float]] = {}
    for at, latency, status in timeline:
        buckets.setdefault(int(at), []).append(latency * 1000)
        if status == 202:
            accepted.setdefault(int(at), []).append(latency * 1000)
    for label, source, quantile in (
        ("all answers p50", buckets, 0.5),
        ("all answers p99", buckets, 0.99),
        ("202 p99", accepted, 0.99),
    ):
        seconds = sorted(source)
        values = [_quantile(source[second], quantile) for second in seconds]
        bottom.plot(seconds, values, label=label)
    bottom.set_yscale("log")
    bottom.set_ylabel("latency (ms, log)")
    bottom.set_xlabel("seconds since the sale started")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
