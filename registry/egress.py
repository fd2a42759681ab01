"""Where a provider may send our requests, and which secret it may carry: the egress policy.

A provider row is written by an admin, but what it points at runs with the product's network
position and environment. Without a policy an admin (or anyone who takes over an admin session)
can make the gateway and the workers call the cloud metadata service, the database or an internal
admin page (SSRF), or send `SECRET_KEY` as a bearer token to a server of their choice.

One module, used at save time (`Provider.clean`) and at call time (`traffic.providers` checks the
resolved addresses before each request and the variable name before reading the key), so the two
can never disagree.

Settings (see rollout_site/settings.py):
- PROVIDER_ALLOWED_HOSTS: host names, IP addresses or networks (CIDR) that may be private,
  e.g. the demo's simulator on 127.0.0.1 or a self-hosted vLLM on 10.0.0.0/8.
- PROVIDER_KEY_ENV_ALLOWLIST: exact variable names allowed besides `*_API_KEY` / `*_API_TOKEN`.
"""

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# --- the API key variable --------------------------------------------------------------------

KEY_ENV_SUFFIXES = ("_API_KEY", "_API_TOKEN")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# The product's own settings and secrets: never a provider key, whatever the allow-list says.
PRODUCT_ENV_NAMES = frozenset(
    {
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "AUDIT_HMAC_KEY",
        "REDIS_URL",
        "EMAIL_HOST_PASSWORD",
        "DJANGO_SETTINGS_MODULE",
        "PROVIDER_ALLOWED_HOSTS",
        "PROVIDER_KEY_ENV_ALLOWLIST",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
_PRODUCT_PREFIXES = ("DJANGO_", "CELERY_", "PG", "POSTGRES")
# Any *_FILE names a secret file (SECRET_KEY_FILE, AUDIT_HMAC_KEY_FILE); *_URL may embed a password.
_PRODUCT_SUFFIXES = ("_FILE", "_URL", "_PASSWORD", "_SECRET", "_HMAC_KEY")


def key_env_problem(name: str, *, allowlist: Iterable[str] | None = None) -> str | None:
    """Why `name` may not be a provider's API-key variable, or None when it may."""
    if not name:
        return None  # no key: the provider needs no Authorization header
    if not ENV_NAME.fullmatch(name):
        return (
            "Use the name of an environment variable (capitals, digits and _), e.g. "
            "OPENAI_API_KEY; never the key itself."
        )
    allowed = set(allowlist if allowlist is not None else settings.PROVIDER_KEY_ENV_ALLOWLIST)
    if (
        name in PRODUCT_ENV_NAMES
        or name.startswith(_PRODUCT_PREFIXES)
        or name.endswith(_PRODUCT_SUFFIXES)
    ):
        return (
            f"{name} holds one of Rollout Desk's own settings or secrets and is never sent to a "
            "provider; put the provider's key in a variable of its own, e.g. OPENAI_API_KEY."
        )
    if name.endswith(KEY_ENV_SUFFIXES) or name in allowed:
        return None
    return (
        f"{name} is not a provider key variable: use a name ending in _API_KEY or _API_TOKEN "
        "(e.g. OPENAI_API_KEY), or add it to PROVIDER_KEY_ENV_ALLOWLIST."
    )


WEBHOOK_ENV_SUFFIX = "_WEBHOOK_URL"


def webhook_env_problem(name: str, *, allowlist: Iterable[str] | None = None) -> str | None:
    """Why `name` may not be a feature's webhook variable, or None when it may (empty: no
    webhook). Like provider key names (registry/egress.py `key_env_problem`): a variable name,
    never one of the product's own settings, ending in _WEBHOOK_URL or allow-listed in
    settings.WEBHOOK_URL_ENV_ALLOWLIST."""
    if not name:
        return None
    if not ENV_NAME.fullmatch(name):
        return (
            "Use the name of an environment variable (capitals, digits and _), e.g. "
            "SUPPORT_WEBHOOK_URL; never the URL itself."
        )
    if name in PRODUCT_ENV_NAMES or name.startswith(_PRODUCT_PREFIXES):
        return (
            f"{name} holds one of Rollout Desk's own settings or secrets and is never used as a "
            "webhook; put the webhook URL in a variable of its own, e.g. SUPPORT_WEBHOOK_URL."
        )
    allowed = set(allowlist if allowlist is not None else settings.WEBHOOK_URL_ENV_ALLOWLIST)
    if name.endswith(WEBHOOK_ENV_SUFFIX) or name in allowed:
        return None
    return (
        f"{name} is not a webhook variable: use a name ending in {WEBHOOK_ENV_SUFFIX} (e.g. "
        "SUPPORT_WEBHOOK_URL), or add it to WEBHOOK_URL_ENV_ALLOWLIST."
    )


# --- the base URL ----------------------------------------------------------------------------

# Names that mean "this machine" or a cloud metadata service without any DNS answer.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal", "metadata")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Allowed:
    """The operator's exceptions: names and networks that may be private."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> "Allowed":
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().lower().strip("[]")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.add(text.rstrip("."))
        return cls(names=frozenset(names), networks=tuple(networks))

    def covers(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def allowed_from_settings() -> Allowed:
    return Allowed.parse(settings.PROVIDER_ALLOWED_HOSTS)


class BlockedAddress(ValueError):
    """A provider URL that points at an address the policy refuses."""


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # ::ffff:127.0.0.1, 64:ff9b::7f00:1 and 2002:7f00:1:: all reach 127.0.0.1.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_problem(address: IPAddress, *, allowed: Allowed) -> str | None:
    """Why a provider may not be reached at `address`, or None when it may.

    Only globally routable unicast addresses pass: loopback, link-local (cloud metadata at
    169.254.169.254), private, unique-local, shared (CGNAT), unspecified (0.0.0.0), multicast
    and reserved ranges are refused unless the operator allow-listed them.
    """
    if allowed.covers(address):
        return None
    inner = _embedded_v4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if inner is not None:
        problem = address_problem(inner, allowed=allowed)
        return f"{address} embeds {inner}: {problem}" if problem else None
    if address.is_global and not address.is_multicast:
        return None
    return (
        f"{address} is a loopback, link-local, private or otherwise non-public address; "
        "providers must be on the public internet, or the operator adds the host to "
        "PROVIDER_ALLOWED_HOSTS."
    )


def split_host(url: str) -> tuple[str, int]:
    """The URL's host (lower case, no brackets) and port; BlockedAddress when it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress(f"The base URL cannot be read: {exc}.") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise BlockedAddress("The base URL needs http:// or https:// and a host.")
    return host, port or (443 if parts.scheme == "https" else 80)


def literal_problem(host: str, *, allowed: Allowed) -> tuple[bool, str | None]:
    """(decided, problem) from the host text alone: allow-listed names, local names and IP
    literals are decided without DNS; any other name must be resolved."""
    if host in allowed.names:
        return True, None
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True, (
            f"{host} is this machine; providers must be on the public internet, or the "
            "operator adds the host to PROVIDER_ALLOWED_HOSTS."
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True, address_problem(address, allowed=allowed)
    # inet_aton spellings (127.1, 0x7f.0.0.1, 2130706433) reach loopback too, though
    # ipaddress does not read them; the resolver does, so they are checked as resolved.
    return False, None


def resolved_problem(host: str, addresses: Iterable[str], *, allowed: Allowed) -> str | None:
    """Every address the name resolves to must pass: a client may connect to any of them."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        problem = address_problem(address, allowed=allowed)
        if problem:
            return f"{host} resolves to {problem}"
    return None


def addresses_from(infos: Iterable[tuple[Any, ...]]) -> list[str]:
    """The addresses in a getaddrinfo answer."""
    return [str(info[4][0]) for info in infos]


def url_problem(url: str, *, allowed: Allowed | None = None, resolve: bool = True) -> str | None:
    """Why a provider at `url` may not be called, or None when it may.

    A name that does not resolve now is let through: it cannot be reached either, and the
    connect-time check refuses it if it later resolves to a refused address.
    """
    allowed = allowed if allowed is not None else allowed_from_settings()
    try:
        host, port = split_host(url)
    except BlockedAddress as exc:
        return str(exc)
    decided, problem = literal_problem(host, allowed=allowed)
    if decided or not resolve:
        return problem
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return resolved_problem(host, addresses_from(infos), allowed=allowed)
