"""ASGI entry point: the gateway's paths go to the bare gateway app, everything else to Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
django_app = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402

from registry.observability import process_exited  # noqa: E402
from traffic.gateway.app import gateway_routes  # noqa: E402 - needs Django set up first
from traffic.gateway.recorder import flush_at_exit  # noqa: E402

_gateway = gateway_routes()


async def application(scope, receive, send):
    if scope["type"] == "http":
        handler = _gateway.get(scope["path"].rstrip("/"))
        if handler is not None:
            await handler(scope, receive, send)
            return
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await django_app(scope, receive, send)


async def _lifespan(receive, send) -> None:
    """Start-up needs nothing. At shutdown, after the last request: write the gateway's buffered
    logs and retire this process's live metrics. Not left to atexit: uvicorn re-raises the
    SIGTERM it handled, and a process ended by a signal runs no atexit handler."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await sync_to_async(flush_at_exit, thread_sensitive=False)()
            process_exited()
            await send({"type": "lifespan.shutdown.complete"})
            return
