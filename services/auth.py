"""Bearer-token authentication for the gRPC server (``authorization: Bearer <token>`` metadata)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import grpc

HEALTH_PREFIX = "/grpc.health.v1.Health/"
"""Health checks stay open so load balancers and probes need no token."""


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata that authenticates with ``token``."""
    return (("authorization", f"Bearer {token}"),)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Reject calls without the expected bearer token with UNAUTHENTICATED.

    Args:
        token: The shared secret callers must present.
        open_prefixes: Method prefixes served without a token (health checks by default).
        on_deny: Called with the full method path of every refused call (for metrics).
    """

    def __init__(self, token: str, open_prefixes: tuple[str, ...] = (HEALTH_PREFIX,),
                 on_deny: Callable[[str], None] | None = None) -> None:
        if not token:
            raise ValueError("token must be non-empty")
        self._expected = f"Bearer {token}".encode()
        self._open = open_prefixes
        self._on_deny = on_deny

        async def deny(request: object, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token (metadata 'authorization: Bearer <token>')")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny)

    def _authorized(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                given = value if isinstance(value, bytes) else value.encode()
                return hmac.compare_digest(given, self._expected)
        return False

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        if method.startswith(self._open) or self._authorized(handler_call_details.invocation_metadata):
            return await continuation(handler_call_details)
        if self._on_deny is not None:
            self._on_deny(method)
        return self._deny_stream if method.endswith("/WatchRiskScores") else self._deny_unary
