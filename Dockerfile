# syntax=docker/dockerfile:1.7
#
# One multi-stage, multi-target Dockerfile for the four services.
#   docker build --target gateway          -t ticketing/gateway .
#   docker build --target booking-command  -t ticketing/booking-command .
#   docker build --target inventory        -t ticketing/inventory .
#   docker build --target query-projection -t ticketing/query-projection .
#   docker build --target entry            -t ticketing/entry .
#   docker build --target notifications    -t ticketing/notifications .
#   docker build --target web              -t ticketing/web .
# and the stand-in for the external card payment provider (not part of the platform):
#   docker build --target payment-simulator -t ticketing/payment-simulator .
#   docker build --target mail-catcher     -t ticketing/mail-catcher .
#
# Each image holds one service's locked dependencies only
# (`uv sync --frozen --no-dev --package <svc>`): no dev tools, no local-infra,
# no other service. Images run as uid 10001, need no writable root filesystem
# (mount a tmpfs/emptyDir on /tmp) and drain in-flight requests on SIGTERM for
# SHUTDOWN_GRACE_SECONDS before closing pools and consumers.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------- build base
FROM ${PYTHON_IMAGE} AS build-base
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Workspace metadata first: the lock file plus every member's pyproject.toml
# (uv needs them to read the workspace; only the selected package is installed).
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/pyproject.toml
COPY libs/service-kit/pyproject.toml libs/service-kit/pyproject.toml
COPY libs/local-infra/pyproject.toml libs/local-infra/pyproject.toml
COPY services/gateway/pyproject.toml services/gateway/pyproject.toml
COPY services/booking-command/pyproject.toml services/booking-command/pyproject.toml
COPY services/inventory/pyproject.toml services/inventory/pyproject.toml
COPY services/query-projection/pyproject.toml services/query-projection/pyproject.toml
COPY services/entry/pyproject.toml services/entry/pyproject.toml
COPY services/notifications/pyproject.toml services/notifications/pyproject.toml
COPY services/web/pyproject.toml services/web/pyproject.toml
COPY simulators/payment-provider/pyproject.toml simulators/payment-provider/pyproject.toml
COPY simulators/mail-catcher/pyproject.toml simulators/mail-catcher/pyproject.toml
# Sources of the libraries every service uses, then the services themselves.
COPY libs/contracts libs/contracts
COPY libs/service-kit libs/service-kit
COPY services services
COPY simulators simulators

# ------------------------------------------------------------- build stages
# --no-editable installs workspace members as real packages into /app/.venv,
# so the runtime stage needs nothing but that directory.
FROM build-base AS build-gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package gateway

FROM build-base AS build-booking-command
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package booking-command

FROM build-base AS build-inventory
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package inventory

FROM build-base AS build-query-projection
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package query-projection

FROM build-base AS build-entry
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package entry
# The font for holders' names on PDF tickets (TICKET_PDF_FONT): Latin, Greek, Cyrillic.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

FROM build-base AS build-notifications
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package notifications

FROM build-base AS build-mail-catcher
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package mail-catcher

FROM build-base AS build-web
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package web

FROM build-base AS build-payment-simulator
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package payment-simulator

# ------------------------------------------------------------ runtime base
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HTTP_HOST=0.0.0.0 \
    SHUTDOWN_GRACE_SECONDS=20
WORKDIR /app
# uvicorn handles SIGTERM: stop accepting, drain for SHUTDOWN_GRACE_SECONDS,
# then run the lifespan shutdown (close pools, commit and leave consumer groups).
STOPSIGNAL SIGTERM
USER 10001:10001
# Liveness of the process itself; readiness (/health/ready) is for orchestrators.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/health/live', timeout=2)"]

# ---------------------------------------------------------- service targets
FROM runtime AS gateway
COPY --from=build-gateway --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8000
EXPOSE 8000
CMD ["python", "-m", "gateway"]

FROM runtime AS booking-command
COPY --from=build-booking-command --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8001
EXPOSE 8001
CMD ["python", "-m", "booking_command"]

FROM runtime AS inventory
COPY --from=build-inventory --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8002
EXPOSE 8002
CMD ["python", "-m", "inventory"]

FROM runtime AS query-projection
COPY --from=build-query-projection --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8003
EXPOSE 8003
CMD ["python", "-m", "query_projection"]

FROM runtime AS entry
COPY --from=build-entry --chown=root:root /app/.venv /app/.venv
COPY --from=build-entry /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
ENV HTTP_PORT=8004
EXPOSE 8004
CMD ["python", "-m", "entry"]

FROM runtime AS notifications
COPY --from=build-notifications --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8005
EXPOSE 8005
CMD ["python", "-m", "notifications"]

FROM runtime AS web
COPY --from=build-web --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8080
EXPOSE 8080
CMD ["python", "-m", "ticketing_web"]

FROM runtime AS payment-simulator
COPY --from=build-payment-simulator --chown=root:root /app/.venv /app/.venv
ENV HTTP_PORT=8010
EXPOSE 8010
CMD ["python", "-m", "payment_simulator"]

FROM runtime AS mail-catcher
COPY --from=build-mail-catcher --chown=root:root /app/.venv /app/.venv
# Caught mail is kept here (a volume in compose takes this owner on first use).
USER 0
RUN mkdir -p /data/mail && chown -R 10001:10001 /data
USER 10001:10001
ENV HTTP_PORT=8025
EXPOSE 8025
EXPOSE 1025
CMD ["python", "-m", "mail_catcher"]
