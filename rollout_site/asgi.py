"""ASGI entry point: the gateway's paths go to the bare gateway app, everything else to Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rollout_site.settings")
django_app = get_asgi_application()

from traffic.gateway.app import gateway_routes  # noqa: E402 - needs Django set up first

_gateway = gateway_routes()


async def application(scope, receive, send):
    if scope["type"] == "http":
        handler = _gateway.get(scope["path"].rstrip("/"))
        if handler is not None:
            await handler(scope, receive, send)
            return
    await django_app(scope, receive, send)
