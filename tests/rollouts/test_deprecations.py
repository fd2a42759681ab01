"""The deprecation calendar on the dashboard and the daily retirement warning
(rollouts/services/deprecations.py, rollouts/tasks.py)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from registry.models import AuditEvent, ModelVersion
from registry.services import registry
from rollouts import tasks
from rollouts.services.deprecations import RETIRING, deprecation_calendar


@pytest.fixture
def today():
    return timezone.now().date()


@pytest.fixture
def calendar_setup(make_version, make_config, today):
    """gpt-4o-2024-05-13 retires in 30 days and serves two features; gpt-4-0613 retired 3 days
    ago and still serves one; gpt-3.5 retired and serves none; gpt-4o-mini retires in 200."""
    successor = make_version("gpt-4o-2024-08-06")
    soon = make_version(
        "gpt-4o-2024-05-13", deprecates=today + timedelta(days=30), successor=successor
    )
    gone = make_version("gpt-4-0613", deprecates=today + timedelta(days=1))
    done = make_version("gpt-3.5-turbo-0125", deprecates=today + timedelta(days=1))
    later = make_version("gpt-4o-mini-2024-07-18", deprecates=today + timedelta(days=200))
    for key, version in (("support-reply", soon), ("summary", soon), ("legacy", gone)):
        registry.feature_create(
            key=key, name=key, served_config=make_config(key, version), actor=None
        )
    registry.feature_create(
        key="late", name="late", served_config=make_config("l", later), actor=None
    )
    # Retired versions refuse new configs: serve first, then let the date pass.
    ModelVersion.objects.filter(pk__in=[gone.pk, done.pk]).update(
        deprecates=today - timedelta(days=3)
    )
    return {"soon": soon, "gone": gone, "done": done, "later": later, "successor": successor}


def test_the_calendar_lists_what_retires_soon_or_retired_and_still_serves(calendar_setup, today):
    entries = deprecation_calendar(today=today)
    assert [e.version.model_id for e in entries] == ["gpt-4-0613", "gpt-4o-2024-05-13"]
    gone, soon = entries
    assert gone.retired and gone.days_left == -3 and gone.when == "retired 3 days ago"
    assert [f.key for f in gone.features] == ["legacy"]
    assert soon.days_left == 30 and soon.when == "retires in 30 days"
    assert [f.key for f in soon.features] == ["summary", "support-reply"]
    assert soon.successor == calendar_setup["successor"]


def test_the_window_follows_the_setting(calendar_setup, today, settings):
    settings.DEPRECATION_WARNING_DAYS = 365
    ids = [e.version.model_id for e in deprecation_calendar(today=today)]
    assert "gpt-4o-mini-2024-07-18" in ids


def test_the_dashboard_shows_days_left_features_and_successor(client_for, calendar_setup):
    html = client_for("viewer").get("/").content.decode()
    section = html.split('id="deprecations"', 1)[1].split("</section>", 1)[0]
    row = section.split("gpt-4o-2024-05-13", 1)[1].split("</tr>", 1)[0]
    assert "retires in 30 days" in row
    assert "support-reply" in row and "summary" in row
    assert "gpt-4o-2024-08-06" in row
    assert "retired 3 days ago" in section and "legacy" in section
    assert "gpt-3.5-turbo-0125" not in section
    assert "Start upgrade campaign" not in section  # a viewer does not start campaigns


@pytest.mark.parametrize(("who", "shown"), [("viewer", False), ("reviewer", False),
                                            ("release", True), ("admin", True)])  # fmt: skip
def test_the_campaign_link_is_for_release_managers_only(client_for, calendar_setup, who, shown):
    html = client_for(who).get("/").content.decode()
    link = f"/campaigns/new/?from={calendar_setup['soon'].code}"
    assert (link in html) is shown


def test_the_dashboard_lists_active_campaigns(client_for, calendar_setup):
    from rollouts.services.campaigns import campaign_create

    campaign = campaign_create(
        from_version=calendar_setup["soon"],
        to_version=calendar_setup["successor"],
        actor=None,
        start_gates=False,
    )
    html = client_for("viewer").get("/").content.decode()
    assert f"/campaigns/{campaign.code}/" in html


def _warnings():
    return AuditEvent.objects.filter(action=RETIRING)


def test_the_daily_warning_writes_one_event_per_feature_and_version(calendar_setup):
    assert tasks.deprecation_warnings() == 3
    events = {e.feature_key: e for e in _warnings()}
    assert set(events) == {"support-reply", "summary", "legacy"}
    assert "30 days left" in events["support-reply"].reason
    assert "gpt-4o-2024-08-06" in events["support-reply"].reason
    assert "retired on" in events["legacy"].reason and "3 days ago" in events["legacy"].reason
    assert events["summary"].object_id == str(calendar_setup["soon"].code)
    assert events["summary"].after["days_left"] == 30


def test_running_twice_in_a_day_writes_nothing_more_and_the_next_day_writes_again(
    calendar_setup,
):
    tasks.deprecation_warnings()
    assert tasks.deprecation_warnings() == 0
    assert _warnings().count() == 3
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert tasks.deprecation_warnings() == 3
        assert tasks.deprecation_warnings() == 0
        latest = _warnings().filter(feature_key="support-reply").order_by("-id").first()
        assert latest.after["days_left"] == 29
    assert _warnings().count() == 6


def test_no_feature_on_a_retiring_version_means_no_warning(make_version, today, db):
    make_version("gpt-4o-2024-05-13", deprecates=today + timedelta(days=10))
    assert tasks.deprecation_warnings() == 0
