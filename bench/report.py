"""Medians over rounds and the readable tables (figures with same-round ratios, CPU per booking)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    label: str
    path: str
    unit: str
    baseline_label: str = ""
    baseline_path: str = ""


def figures(connections: list[int]) -> list[Figure]:
    found: list[Figure] = []
    for c in connections:
        at = f"connections.{c}"
        single = "single service, 2 workers"
        found += [
            Figure(
                f"Confirmed bookings/s as fans see them (read model), {c} conn",
                f"{at}.sale.confirmed_bookings_per_second",
                "/s",
                f"{single}; its table",
                f"{at}.single_service.confirmed_bookings_per_second",
            ),
            Figure(
                f"Confirmed bookings/s, write side (event store), {c} conn",
                f"{at}.sale.write_side.confirmed_bookings_per_second",
                "/s",
                f"{single}; its table",
                f"{at}.single_service.confirmed_bookings_per_second",
            ),
            Figure(
                f"Booking answer p99, {c} conn",
                f"{at}.sale.wrk.latency.p99_ms",
                "ms",
                "single service 201 p99",
                f"{at}.single_service.latency.p99_ms",
            ),
            Figure(
                f"Availability reads/s via gateway, {c} conn",
                f"{at}.reads.gateway.requests_per_second",
                "req/s",
                "query-projection direct",
                f"{at}.reads.query_projection.requests_per_second",
            ),
            Figure(
                f"Availability read p99 via gateway, {c} conn",
                f"{at}.reads.gateway.latency.p99_ms",
                "ms",
                "query-projection direct",
                f"{at}.reads.query_projection.latency.p99_ms",
            ),
            Figure(
                f"Sold-out answers (409)/s, {c} conn",
                f"{at}.sold_out.answers_409_per_second",
                "req/s",
                "minimal endpoint verifying the JWT",
                f"{at}.minimal.answers_409_per_second",
            ),
            Figure(
                f"Sold-out answer p99, {c} conn",
                f"{at}.sold_out.latency.p99_ms",
                "ms",
                "minimal endpoint p99",
                f"{at}.minimal.latency.p99_ms",
            ),
            Figure(
                f"CPU ms per confirmed booking, all platform processes, {c} conn",
                f"{at}.sale.cpu_ms_total",
                "ms",
                "single service + PostgreSQL",
                f"{at}.single_service.cpu_ms_total",
            ),
            Figure(
                f"Projection lag p99 during the sale, {c} conn",
                f"{at}.sale.projection_lag.p99_ms",
                "ms",
            ),
            *end_of_load(f"the sale, {c} conn", f"{at}.sale.projection_lag"),
            Figure(
                f"Every confirmed booking's tickets mailed, after the end of the sale, {c} conn",
                f"{at}.sale.projection_lag.mails_done_seconds",
                "s",
                "single service's last mail",
                f"{at}.single_service.mails_done_seconds",
            ),
            Figure(
                f"Time to final p99 (sampled, write-side times), {c} conn",
                f"{at}.sale.sample.time_to_final.p99_ms",
                "ms",
            ),
        ]
    found += [
        Figure(
            "Half rate: offered (half the single-service max)", "half_rate.target_rate", "req/s"
        ),
        Figure("Half rate: achieved", "half_rate.achieved_rate", "req/s"),
        Figure("Half rate: 202 p99", "half_rate.accepted_p99_ms", "ms"),
        Figure("Half rate: projection lag p99", "half_rate.projection_lag.p99_ms", "ms"),
        *end_of_load("the half-rate run", "half_rate.projection_lag"),
        Figure(
            "Baseline: PostgreSQL single-row insert tx",
            "postgres_inserts.transactions_per_second",
            "tx/s",
        ),
        Figure(
            "Baseline: aiokafka produce to the broker", "kafka_produce.messages_per_second", "msg/s"
        ),
    ]
    return found


def end_of_load(load: str, path: str) -> list[Figure]:
    """The projection at a load's end: a backlog that grows through a load is no steady
    state, so it shows here."""
    return [
        Figure(f"Projection lag p99 in the last ≤10 s of {load}", f"{path}.tail_p99_ms", "ms"),
        Figure(
            f"Messages query-projection had not applied at the end of {load}",
            f"{path}.messages_behind_at_end",
            "msgs",
        ),
        Figure(
            f"Event store's last Confirmed event, after the end of {load}",
            f"{path}.write_side_done_seconds",
            "s",
        ),
        Figure(
            f"Read model showed every confirmed booking, after the end of {load}",
            f"{path}.read_model_caught_up_seconds",
            "s",
        ),
    ]


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


def _add_totals(round_report: dict[str, Any]) -> None:
    for at in round_report["connections"].values():
        for key in ("sale", "single_service"):
            per_process = at[key]["cpu_ms_per_confirmed"]
            at[key]["cpu_ms_total"] = sum(per_process.values())


def median_summary(rounds: list[dict[str, Any]], connections: list[int]) -> dict[str, Any]:
    for one in rounds:
        _add_totals(one)
    table: dict[str, Any] = {}
    for figure in figures(connections):
        entry: dict[str, Any] = {
            "value": median([lookup(one, figure.path) for one in rounds]),
            "unit": figure.unit,
            "path": figure.path,
        }
        if figure.baseline_path:
            # Each round's ratio against its own baseline, then the median: the machine's
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
        table[figure.label] = entry
    cpu: dict[str, dict[str, float]] = {}
    generator: dict[str, dict[str, float]] = {}
    for c in connections:
        at = f"connections.{c}"
        processes = rounds[0]["connections"][str(c)]["sale"]["cpu_ms_per_confirmed"]
        for name in processes:
            cpu.setdefault(name, {})[str(c)] = median(
                [lookup(one, f"{at}.sale.cpu_ms_per_confirmed.{name}") for one in rounds]
            )
        single = rounds[0]["connections"][str(c)]["single_service"]["cpu_ms_per_confirmed"]
        for name in single:
            cpu.setdefault(f"baseline: {name}", {})[str(c)] = median(
                [lookup(one, f"{at}.single_service.cpu_ms_per_confirmed.{name}") for one in rounds]
            )
        # The payment provider and the SMTP relay are external parties: shown, never in
        # either total.
        for key, prefix in (
            ("sale", "external, platform's charges and mail"),
            ("single_service", "external, baseline's charges and mail"),
        ):
            outside = rounds[0]["connections"][str(c)][key].get("external_cpu_ms_per_confirmed", {})
            for name in outside:
                cpu.setdefault(f"{prefix}: {name}", {})[str(c)] = median(
                    [
                        lookup(one, f"{at}.{key}.external_cpu_ms_per_confirmed.{name}")
                        for one in rounds
                    ]
                )
        for label, path in (
            ("platform booking", f"{at}.sale.wrk"),
            ("single-service booking", f"{at}.single_service"),
            ("minimal endpoint", f"{at}.minimal"),
            ("gateway availability", f"{at}.reads.gateway"),
            ("sold-out answers", f"{at}.sold_out"),
        ):
            generator.setdefault(label, {})[str(c)] = median(
                [lookup(one, f"{path}.generator_cpu.percent_of_one_core") for one in rounds]
            )
    generator.setdefault("half rate (paced)", {})["-"] = median(
        [lookup(one, "half_rate.wrk.generator_cpu.percent_of_one_core") for one in rounds]
    )
    invariants: dict[str, bool] = {}
    for one in rounds:
        for name, check in one["invariants"].items():
            invariants[name] = invariants.get(name, True) and bool(check["passed"])
    return {
        "figures": table,
        "cpu_ms_per_confirmed": cpu,
        "generator_cpu_percent_of_one_core": generator,
        "invariants": invariants,
    }


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit in ("ms", "s"):
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}"


def table_lines(report: dict[str, Any]) -> list[str]:
    summary = report["median"]
    connections = [str(c) for c in report["configuration"]["connections"]]
    lines = [
        "| figure (median of rounds) | platform | baseline (same round) | ratio |",
        "|---|---|---|---|",
    ]
    for label, entry in summary["figures"].items():
        baseline = ratio = ""
        if "baseline" in entry:
            baseline = f"{_number(entry['baseline'], entry['unit'])} ({entry['baseline_label']})"
            ratio = "n/a" if math.isnan(entry["ratio"]) else f"{entry['ratio']:.2f}x"
        lines.append(
            f"| {label} | {_number(entry['value'], entry['unit'])} | {baseline} | {ratio} |"
        )
    lines += [
        "",
        "| CPU ms per confirmed booking | " + " | ".join(f"{c} conn" for c in connections) + " |",
        "|---|" + "---|" * len(connections),
    ]
    for name, values in summary["cpu_ms_per_confirmed"].items():
        cells = " | ".join(_number(values.get(c, math.nan), "ms") for c in connections)
        lines.append(f"| {name} | {cells} |")
    columns = [*connections, "-"]
    lines += [
        "",
        "| wrk's own CPU, % of one core (machine: "
        f"{report['machine']['cpus']} cores) | "
        + " | ".join(f"{c} conn" for c in connections)
        + " | paced |",
        "|---|" + "---|" * len(columns),
    ]
    for name, values in summary["generator_cpu_percent_of_one_core"].items():
        cells = " | ".join(
            "" if math.isnan(values.get(c, math.nan)) else f"{values[c]:.0f}%" for c in columns
        )
        lines.append(f"| {name} | {cells} |")
    lines += ["", "| invariant (every round) | result |", "|---|---|"]
    for name, passed in summary["invariants"].items():
        lines.append(f"| {name} | {'PASS' if passed else 'FAIL'} |")
    return lines


def print_table(report: dict[str, Any]) -> None:
    configuration = report["configuration"]
    machine = report["machine"]
    print(
        f"\nFlash sale: wrk at {configuration['connections']} connections, "
        f"{configuration['booking_seconds']:.0f} s booking runs, "
        f"{configuration['read_seconds']:.0f} s read runs, sell-out of "
        f"{configuration['sell_out_capacity']} tickets, {configuration['users']} users, "
        f"{len(report['rounds'])} round(s)"
    )
    print(
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, load average at start "
        f"{machine['load_average_at_start'][0]:.1f}"
    )
    for note in configuration["notes"]:
        print(f"  - {note}")
    print()
    print("\n".join(table_lines(report)))
    for one in report["rounds"]:
        for name, check in one["invariants"].items():
            verdict = "PASS" if check["passed"] else "FAIL"
            print(f"round {one['round']} {verdict} {name}: {check['detail']}")
