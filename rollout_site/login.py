"""Sign-in throttling: Django's LoginView, refusing guesses once a username or an address has
failed too often.

1. Every attempt is first written into two sliding-window logs, one per username (case folded)
   and one per client address (traffic/ratestore.py: one atomic step on Redis). Writing before
   checking the password is what makes the limit hold against parallel guesses: each attempt in
   flight already counts for the next.
2. An attempt that finds more than `LOGIN_FAILURES_PER_USERNAME` (or `..._PER_IP`) entries in
   the window is taken out of the logs again and refused with a 429 page saying when to retry,
   without checking the password: a correct password during a lock-out fails too.
3. A failed attempt stays in both logs. A successful one clears its username's log (the user
   proved who they are) and leaves the address's log without itself (one good account must not
   reset an address that is guessing at others).
4. The shared store down: sign-in works as without throttling (fail open, logged once a minute).

The failure that starts a lock-out is logged (a warning) with the username and the address, never
the password; refusals are counted (`rejected_counts()["login"]`).
"""

import hashlib
import logging
import math
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from traffic.ratestore import StoreUnavailable, log_add, log_remove, note_rejected, note_unchecked

log = logging.getLogger("rollout_site.login")


def client_ip(request: HttpRequest) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(kind: str, value: str) -> str:
    # Hashed: a username is any text a visitor types, and must not shape the store's keys.
    return f"login:{kind}:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()[:32]}"


@dataclass
class Attempt:
    username: str
    ip: str
    member: str = field(default_factory=lambda: f"{time.time():.6f}:{uuid.uuid4().hex}")
    retry_after: int = 0  # > 0: refused, try again in this many seconds
    recorded: list[str] = field(default_factory=list)  # the logs this attempt is in
    locks: list[str] = field(default_factory=list)  # what this attempt locks if it fails

    def failed(self, limits: dict[str, int]) -> None:
        for kind in self.locks:
            log.warning(
                "sign-in locked for %s: %d failed attempts within %d s (username %r, from %r)",
                kind,
                limits[kind],
                settings.LOGIN_FAILURE_WINDOW_SECONDS,
                self.username,
                self.ip,
            )

    def succeeded(self) -> None:
        try:
            for key in self.recorded:
                log_remove(key, None if key.startswith("login:user:") else self.member)
        except StoreUnavailable as exc:
            note_unchecked(exc)


def attempt_begin(*, username: str, ip: str) -> Attempt:
    """Record a sign-in attempt before its password is checked; `retry_after` > 0 if refused."""
    attempt = Attempt(username=username, ip=ip)
    window = float(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    now = time.time()
    limits = [
        (_key("user", username.casefold()), settings.LOGIN_FAILURES_PER_USERNAME),
        (_key("ip", ip), settings.LOGIN_FAILURES_PER_IP),
    ]
    try:
        for key, limit in limits:
            if limit <= 0:
                continue
            times = log_add(key, attempt.member, now=now, window=window)
            attempt.recorded.append(key)
            others = len(times) - 1
            if others >= limit:
                # The oldest failure that must age out before one more attempt fits.
                oldest = times[others - limit]
                wait = max(1, math.ceil(oldest + window - now))
                attempt.retry_after = max(attempt.retry_after, wait)
            elif others + 1 == limit:
                attempt.locks.append("username" if key.startswith("login:user:") else "address")
        if attempt.retry_after:
            for key in attempt.recorded:  # a refused attempt is not a guess
                log_remove(key, attempt.member)
            attempt.recorded = []
    except StoreUnavailable as exc:
        note_unchecked(exc)
        attempt.retry_after = 0
    return attempt


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150]
        self.attempt = attempt_begin(username=username, ip=client_ip(request))
        if self.attempt.retry_after:
            note_rejected("login")
            return _locked(request, self.attempt.retry_after)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        self.attempt.succeeded()
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        self.attempt.failed(
            {
                "username": settings.LOGIN_FAILURES_PER_USERNAME,
                "address": settings.LOGIN_FAILURES_PER_IP,
            }
        )
        return super().form_invalid(form)


def _locked(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(
        request,
        "registration/login_locked.html",
        {"retry_after": retry_after, "minutes": math.ceil(retry_after / 60)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
