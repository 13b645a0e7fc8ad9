"""Alerts, dashboard and runbooks agree with each other and with the metric names
the services expose; the deploy README documents every Secret the manifests use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "k8s" / "base" / "monitoring"
RUNBOOKS = ROOT / "docs" / "runbooks"

EXPOSED_METRICS = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "kafka_consumer_lag",
    "projection_lag_seconds_bucket",
    "circuit_breaker_state",
    "dead_letter_messages_total",
    "outbox_pending_events",
    "inventory_reservations_total",
    "inventory_rejections_total",
    "booking_requests_total",
    "kube_pod_container_status_restarts_total",
}
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "max", "and", "or", "histogram_quantile", "le",
    "namespace", "job", "status", "topic", "reason", "name", "container", "pod", "route",
    "outcome",
}  # fmt: skip
REQUIRED_ALERTS = {
    "TicketingHigh5xxRate": "http_requests_total",
    "TicketingHighP99Latency": "http_request_duration_seconds_bucket",
    "TicketingConsumerLagHigh": "kafka_consumer_lag",
    "TicketingProjectionLagHigh": "projection_lag_seconds_bucket",
    "TicketingCircuitBreakerOpen": "circuit_breaker_state",
    "TicketingDeadLetterGrowth": "dead_letter_messages_total",
    "TicketingPodRestarting": "kube_pod_container_status_restarts_total",
}
PROCEDURES = (
    "scaling-for-an-on-sale.md",
    "replaying-dead-letters.md",
    "rebuilding-read-models.md",
    "restore-from-backup.md",
    "rolling-restart.md",
)


def metrics_in(expression: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', "", expression)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    identifiers = set(re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", without_ranges))
    return {word for word in identifiers if word not in PROMQL_WORDS}


def alerts() -> dict[str, dict[str, Any]]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def test_alerts_cover_the_required_signals_with_exposed_metrics() -> None:
    found = alerts()
    for alert, metric in REQUIRED_ALERTS.items():
        assert alert in found, f"missing alert {alert}"
        assert metric in metrics_in(found[alert]["expr"]), alert
    for alert, rule in found.items():
        unknown = metrics_in(rule["expr"]) - EXPOSED_METRICS
        assert not unknown, f"{alert} uses metrics nobody exposes: {unknown}"
    assert "== 2" in found["TicketingCircuitBreakerOpen"]["expr"]  # 2 = open
    assert 'status=~"5.."' in found["TicketingHigh5xxRate"]["expr"]
    assert "0.99" in found["TicketingHighP99Latency"]["expr"]


def test_every_alert_has_a_runbook_page() -> None:
    for alert, rule in alerts().items():
        page = ROOT / rule["annotations"]["runbook"]
        assert page == RUNBOOKS / f"{alert}.md", alert
        text = page.read_text()
        assert text.startswith(f"# {alert}\n")
        for section in ("## What it means", "## How to check", "## How to fix"):
            assert section in text, f"{page.name}: missing {section}"
    index = (RUNBOOKS / "README.md").read_text()
    for name in [*alerts(), *PROCEDURES]:
        assert name in index, f"docs/runbooks/README.md does not link {name}"
    for procedure in PROCEDURES:
        assert (RUNBOOKS / procedure).is_file()


def test_runbooks_use_the_operator_commands() -> None:
    assert (
        "python -m inventory dead-letters list"
        in (RUNBOOKS / "replaying-dead-letters.md").read_text()
    )
    assert (
        "python -m inventory dead-letters redrive"
        in (RUNBOOKS / "replaying-dead-letters.md").read_text()
    )
    assert (
        "python -m query_projection rebuild" in (RUNBOOKS / "rebuilding-read-models.md").read_text()
    )


def test_dashboard_shows_every_alerted_signal() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used: set[str] = set().union(*(metrics_in(expr) for expr in expressions))
    assert used <= EXPOSED_METRICS, used - EXPOSED_METRICS
    alerted = set().union(*(metrics_in(rule["expr"]) for rule in alerts().values()))
    assert alerted <= used, f"alerted but not on the dashboard: {alerted - used}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
