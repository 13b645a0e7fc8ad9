"""Property-based fuzzing of the gateway's published OpenAPI with schemathesis.

Schemathesis reads `/openapi.json` from a running stack and generates requests for every
operation, valid ones and ones that break the schema, sent as a freshly registered plain
user and anonymously. Every answer must be a documented status, match its documented
schema and never be a server error.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup

from local_infra.pytest_plugin import DatabaseFactory
from local_infra.session_infrastructure import Infrastructure
from local_infra.stack_state import StackInfo

from .platform_api import book, create_venue, published_show, register_fan
from .stack_helpers import admin_headers, own_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MIN_CASES = 1_000
# Revokes the fuzzing user's token, so the user's sweeps call it last.
LOGOUT = "POST /api/v1/auth/logout"
REQUEST_TIMEOUT_SECONDS = 15
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]

# Its own stack: a thousand requests a minute from one user and one address would only
# measure the rate limiter (and starve the shared stack's tests of their per-address
# budget). Cheaper password hashing and short status streams keep the run bounded.
FUZZ_STACK_ENV: dict[str, str] = {
    "RATE_LIMIT_DEFAULT": "100000/minute",
    "RATE_LIMIT_LOGIN_FAILURES": "100000/minute",
    "RATE_LIMIT_REGISTER": "100000/minute",
    "RATE_LIMIT_REGISTER_TAKEN_EMAILS": "100000/minute",
    "RATE_LIMIT_BOOKING": "100000/minute",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "8192",
    "SSE_MAX_DURATION_SECONDS": "1",
}


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    # One example per (operation, status, check), so a finding is listed once.
    failures: dict[tuple[str, int, str], str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        return "\n".join(
            f"{label}: {self.cases[label]} cases, statuses {dict(sorted(statuses.items()))}"
            for label, statuses in sorted(self.statuses.items())
        )


@dataclass(frozen=True)
class FuzzPass:
    """One sweep over every operation: who calls, which data, how many examples each."""

    name: str
    headers: Mapping[str, str]
    mode: GenerationMode
    max_examples: int
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    only: frozenset[str] | None = None

    def covers(self, label: str) -> bool:
        return label not in self.skip and (self.only is None or label in self.only)


def send_and_check(
    case: schemathesis.Case[Any], sweep: FuzzPass, session: requests.Session, report: FuzzReport
) -> None:
    label = case.operation.label
    headers = dict(sweep.headers)
    response = case.call(session=session, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
    report.cases[label] += 1
    report.statuses[label][response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            report.failures.setdefault(
                (label, response.status_code, failure.title),
                f"[{sweep.name}] {failure.title}: {failure.message}\n  {case.as_curl_command()}",
            )


def fuzz(schema: schemathesis.BaseSchema, sweep: FuzzPass, report: FuzzReport) -> None:
    """Send `sweep`'s generated cases for every operation; record statuses and failures."""
    session = requests.Session()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the gateway's OpenAPI has an invalid operation: {result}"
        operation = result.ok()
        if not sweep.covers(operation.label):
            continue
        known_ids = {
            name: value
            for name, value in sweep.path_parameters.items()
            if f"{{{name}}}" in operation.path
        }
        strategy = operation.as_strategy(
            generation_mode=sweep.mode, path_parameters=known_ids or None
        )

        @hypothesis.settings(
            max_examples=sweep.max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=strategy)
        def exercise(case: schemathesis.Case[Any]) -> None:
            send_and_check(case, sweep, session, report)

        try:
            exercise()
        except hypothesis.errors.Unsatisfiable:
            # Nothing in this operation can be made invalid (no parameters, no body).
            assert sweep.mode is GenerationMode.NEGATIVE, operation.label


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory,
    infrastructure: Infrastructure,
    database_factory: DatabaseFactory,
    topic_prefix: str,
    redis_key_prefix: str,
) -> AsyncIterator[StackInfo]:
    async with own_stack(
        "fuzz",
        tmp_path_factory,
        infrastructure,
        database_factory,
        topic_prefix,
        redis_key_prefix,
        FUZZ_STACK_ENV,
    ) as info:
        yield info


async def test_generated_requests_get_documented_answers_and_no_server_errors(
    fuzz_stack: StackInfo,
) -> None:
    async with httpx.AsyncClient(base_url=fuzz_stack.gateway_url, timeout=30) as client:
        admin = await admin_headers(client, fuzz_stack)
        venue_id = await create_venue(client, admin)
        show = await published_show(
            client, admin, {"Standing": 100}, name="Fuzzed Show", venue_id=venue_id
        )
        fan = await register_fan(client, "Fuzz Fan")
        booking_id = await book(client, fan.headers, show.event_id, show.ticket_type("Standing"), 1)
    # Real ids as well, so the documented 2xx answers are checked too, not only 404s.
    real_ids = {
        "event_id": show.event_id,
        "venue_id": venue_id,
        "booking_id": booking_id,
        "user_id": fan.user_id,
    }
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.gateway_url}/openapi.json")
    user, anonymous = fan.headers, dict[str, str]()
    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    before_logout = frozenset({LOGOUT})
    sweeps = [
        FuzzPass("plain user", user, positive, 30, skip=before_logout),
        FuzzPass("plain user, invalid data", user, negative, 15, skip=before_logout),
        FuzzPass("plain user, real ids", user, positive, 10, real_ids, skip=before_logout),
        FuzzPass("anonymous", anonymous, positive, 8),
        FuzzPass("plain user, logging out", user, positive, 5, only=frozenset({LOGOUT})),
    ]
    report = FuzzReport()
    started = time.monotonic()
    for sweep in sweeps:
        # Schemathesis is synchronous; a worker thread keeps the session's event loop free.
        await asyncio.to_thread(fuzz, schema, sweep, report)
        print(f"{sweep.name}: {report.total} cases after {time.monotonic() - started:.0f}s")
    elapsed = time.monotonic() - started
    summary = f"{report.total} cases in {elapsed:.0f}s\n{report.summary()}"
    print(summary)

    operations = {
        result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)
    }
    assert report.total >= MIN_CASES, summary
    assert set(report.cases) == operations, summary
    assert report.statuses["GET /api/v1/users/me"][200] > 0, summary
    assert report.statuses["GET /api/v1/bookings/{booking_id}"][200] > 0, summary
    assert not report.failures, "\n\n".join(report.failures.values()) + "\n\n" + summary
