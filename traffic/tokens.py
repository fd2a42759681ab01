"""API tokens: created with their plaintext shown once, stored as a keyed hash, checked from the
in-process routing table (no database query per request)."""

import hmac
import secrets

from django.db import transaction
from django.utils.crypto import salted_hmac

from registry.models import ApiToken, Feature
from registry.services.audit import audit_record, db_now
from traffic.routing import RoutingTable, TokenView, routing_changed

_PREFIX_CHARS = "abcdefghijkmnopqrstuvwxyz23456789"


def _digest(token: str) -> str:
    # A fast keyed hash, not a password hasher: tokens are long random strings, so a slow hash
    # buys nothing and would cost every API call; the key keeps a leaked table useless.
    return salted_hmac("rollouts.ApiToken", token, algorithm="sha256").hexdigest()


@transaction.atomic
def token_create(*, name: str, features: list[Feature], actor) -> tuple[ApiToken, str]:
    prefix = "".join(secrets.choice(_PREFIX_CHARS) for _ in range(8))
    plaintext = f"rdk_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name,
        prefix=prefix,
        digest=_digest(plaintext),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    token.features.set(features)
    audit_record(
        actor=actor,
        action="token.create",
        obj=token,
        before=None,
        after={"name": name, "prefix": prefix, "features": sorted(f.key for f in features)},
    )
    routing_changed()
    return token, plaintext


@transaction.atomic
def token_revoke(*, token: ApiToken, actor, reason: str = "") -> ApiToken:
    if ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=db_now()):
        audit_record(
            actor=actor,
            action="token.revoke",
            obj=token,
            before={"revoked": None},
            after={"revoked": "now"},
            reason=reason,
        )
        routing_changed()
    token.refresh_from_db()
    return token


def token_check(table: RoutingTable, raw: str) -> TokenView | None:
    """The live token matching `raw`, or None. Constant-time on the secret part."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != "rdk":
        return None
    view = table.tokens.get(parts[1])
    if view is None or not hmac.compare_digest(view.digest, _digest(raw)):
        return None
    return view
