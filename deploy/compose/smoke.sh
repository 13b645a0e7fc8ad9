#!/usr/bin/env bash
# Smoke test of a running compose stack (or any deployment) through the gateway:
# the gateway is live and ready, every internal service is ready from inside
# its container, and the metrics endpoint answers.
#   deploy/compose/smoke.sh [GATEWAY_URL]    default http://127.0.0.1:${GATEWAY_PORT:-8000}
set -euo pipefail
base="${1:-http://127.0.0.1:${GATEWAY_PORT:-8000}}"
compose="${COMPOSE:-docker compose}"
fail=0

check() {  # name url
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2" || true)
  if [[ "${code}" == "200" ]]; then echo "ok    $1"; else echo "FAIL  $1 (HTTP ${code})"; fail=1; fi
}

check "gateway live" "${base}/health/live"
check "gateway ready" "${base}/health/ready"
check "gateway metrics" "${base}/metrics"
for svc in booking-command inventory query-projection entry notifications; do
  if ${compose} exec -T "${svc}" python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/health/ready', timeout=3)" >/dev/null 2>&1; then
    echo "ok    ${svc} ready"
  else
    echo "FAIL  ${svc} ready"; fail=1
  fi
done
exit "${fail}"
