"""Sign-in throttling at /login/ (and the admin's sign-in form): failures per username and per
client address in a sliding 15-minute window, a styled 429 page, the password not checked while
locked. Windows move with time-machine."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from tests.limits.conftest import dead_redis_url, unique, unique_ip

START = datetime(2031, 3, 4, 9, 0, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(db, settings):
    # A fast hasher: each attempt checks a password, and these tests make dozens.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user(username=unique("alice"), password=PASSWORD)


def _browser() -> Client:
    return Client(REMOTE_ADDR=unique_ip())


def _sign_in(client: Client, username: str, password: str, path: str = "/login/"):
    return client.post(path, {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_failures_lock_the_username_with_a_styled_429_page(person):
    browser = _browser()
    with time_machine.travel(START, tick=False):
        failures = [_sign_in(browser, person.username, "wrong").status_code for _ in range(5)]
        locked = _sign_in(browser, person.username, "wrong")
    assert failures == [200] * 5
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Too many sign-in attempts" in page and "Try again in 15 minutes" in page
    assert 'href="/static/css/app.css"' in page  # the site's own styled page


def test_the_correct_password_fails_while_locked_and_works_once_the_window_passes(person):
    browser = _browser()
    with time_machine.travel(START, tick=False) as clock:
        for minute in range(5):
            clock.move_to(START + timedelta(minutes=minute))
            _sign_in(browser, person.username, "wrong")
        clock.move_to(START + timedelta(minutes=10))
        refused = _sign_in(browser, person.username, PASSWORD)
        assert refused.status_code == 429 and not _signed_in(browser)
        # The oldest failure (09:00) leaves the window at 09:15: then one more attempt fits.
        assert refused["Retry-After"] == "300"
        clock.move_to(START + timedelta(minutes=15, seconds=1))
        assert _sign_in(browser, person.username, PASSWORD).status_code == 302
        assert _signed_in(browser)


def test_the_lock_follows_the_username_to_another_address_and_the_admin_form(person):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            _sign_in(_browser(), person.username.upper(), "wrong")
        elsewhere = _browser()
        assert _sign_in(elsewhere, person.username, PASSWORD).status_code == 429
        admin_form = _sign_in(elsewhere, person.username, PASSWORD, "/admin/login/")
        assert admin_form.status_code == 429 and not _signed_in(elsewhere)


def test_a_successful_sign_in_resets_the_usernames_count(person):
    browser = _browser()
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            _sign_in(browser, person.username, "wrong")
        assert _sign_in(browser, person.username, PASSWORD).status_code == 302
        browser.logout()
        again = [_sign_in(browser, person.username, "wrong").status_code for _ in range(5)]
        assert again == [200] * 5
        assert _sign_in(browser, person.username, PASSWORD).status_code == 429


def test_twenty_failures_from_one_address_lock_that_address_for_every_username(person):
    browser = _browser()
    with time_machine.travel(START, tick=False):
        for _ in range(20):
            assert _sign_in(browser, unique("guess"), "wrong").status_code == 200
        assert _sign_in(browser, person.username, PASSWORD).status_code == 429
        assert not _signed_in(browser)
        other = _browser()
        assert _sign_in(other, person.username, PASSWORD).status_code == 302


def test_a_lock_out_is_logged_once_without_the_password(person, caplog):
    browser = _browser()
    with time_machine.travel(START, tick=False), caplog.at_level(logging.INFO):
        for _ in range(8):
            _sign_in(browser, person.username, "hunter2-secret")
    lines = [r.getMessage() for r in caplog.records if r.name == "rollout_site.login"]
    assert len(lines) == 1, lines
    assert person.username in lines[0] and "5 failed attempts" in lines[0]
    assert not any("hunter2-secret" in r.getMessage() for r in caplog.records)


def test_zero_turns_username_throttling_off(person, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 0
    browser = _browser()
    with time_machine.travel(START, tick=False):
        assert {_sign_in(browser, person.username, "wrong").status_code for _ in range(8)} == {200}
        assert _sign_in(browser, person.username, PASSWORD).status_code == 302


def test_the_store_down_lets_people_sign_in(person, settings):
    settings.CACHE_URL = dead_redis_url()
    browser = _browser()
    with time_machine.travel(START, tick=False):
        assert {_sign_in(browser, person.username, "wrong").status_code for _ in range(8)} == {200}
        assert _sign_in(browser, person.username, PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(person, settings):
    settings.TRUST_X_FORWARDED_FOR = True
    proxy = unique_ip()  # every request connects from the proxy
    guesser, bystander = unique_ip(), unique_ip()
    with time_machine.travel(START, tick=False):
        for _ in range(20):
            Client(REMOTE_ADDR=proxy).post(
                "/login/",
                {"username": unique("guess"), "password": "wrong"},
                # A client may send its own X-Forwarded-For; the proxy appends the real one.
                HTTP_X_FORWARDED_FOR=f"203.0.113.9, {guesser}",
            )
        refused = Client(REMOTE_ADDR=proxy).post(
            "/login/",
            {"username": person.username, "password": PASSWORD},
            HTTP_X_FORWARDED_FOR=f"198.51.100.7, {guesser}",
        )
        served = Client(REMOTE_ADDR=proxy).post(
            "/login/",
            {"username": person.username, "password": PASSWORD},
            HTTP_X_FORWARDED_FOR=bystander,
        )
    assert refused.status_code == 429
    assert served.status_code == 302
