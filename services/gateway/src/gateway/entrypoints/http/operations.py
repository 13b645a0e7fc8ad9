"""Operational routes stay inside the cluster.

The ingress forwards only `/api/` and `/health/live` (deploy/k8s/base/ingress.yaml); as a
second line, a request that came through a proxy (it carries `X-Forwarded-For` or
`Forwarded`, which the ingress controller always adds) gets 404 on the detailed health,
`/metrics` and the API docs. The kubelet and Prometheus call the pod directly; operators
use `kubectl port-forward`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

INTERNAL_ONLY_PATHS = frozenset(
    {"/health", "/health/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc"}
    | {"/openapi.json"}
)
_FORWARDED_HEADERS = (b"x-forwarded-for", b"forwarded")


def _from_public_edge(scope: Scope) -> bool:
    return any(name.lower() in _FORWARDED_HEADERS for name, _ in scope.get("headers", ()))


class InternalOperationsOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].rstrip("/") in INTERNAL_ONLY_PATHS
            and _from_public_edge(scope)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"detail":"Not Found","error_type":"not_found"}',
                }
            )
            return
        await self.app(scope, receive, send)
