"""The routing table's age grows in the scrape while the database is cut off, and the scrape
still answers (the database's own figures absent, `database_up` 0); it is 0 once it is back."""

import time

import pytest
from django.db import connection

from tests.faults import TcpProxy
from traffic import routing

from .conftest import value

AGE = "rollout_desk_routing_table_age_seconds"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the outage is a TCP proxy cut in front of PostgreSQL",
    ),
]


@pytest.fixture
def proxy(transactional_db, settings):
    """This process's new connections go through a proxy the test cuts (tests/faults.py)."""
    settings.ROUTING_REFRESH_SECONDS = 0  # every call checks the database
    db = connection.settings_dict
    saved = db["HOST"], db["PORT"]
    with TcpProxy(target=(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))) as tcp:
        connection.close()
        db["HOST"], db["PORT"] = "127.0.0.1", str(tcp.port)
        try:
            yield tcp
        finally:
            connection.close()
            db["HOST"], db["PORT"] = saved
            routing.invalidate_local()


def test_the_routing_age_grows_during_an_outage_and_resets_after(proxy, feature, scrape):
    routing.invalidate_local()
    table = routing.current_table()
    assert value(scrape(), AGE) == 0

    proxy.cut()
    assert routing.current_table() is table
    first = scrape()
    time.sleep(1.1)
    assert routing.current_table() is table  # requests keep being served from it
    later = scrape()
    assert value(first, "rollout_desk_database_up") == 0
    assert value(later, AGE) >= 1.0 and value(later, AGE) > value(first, AGE)
    assert not [name for name, _ in later if name.startswith("rollout_desk_outbox")]

    proxy.restore()
    routing.invalidate_local()
    assert routing.current_table() is not table
    back = scrape()
    assert value(back, AGE) == 0 and value(back, "rollout_desk_database_up") == 1
