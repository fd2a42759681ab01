"""The test suite's flush past the append-only triggers on PostgreSQL.

Between transactional tests (`transactional_db`, `live`, the Celery worker tests) Django empties
every table with one `TRUNCATE ...` (`manage.py flush`), which the audit trail's BEFORE TRUNCATE
triggers refuse, as they refuse it anywhere else. Only this flush, only under pytest, runs with
`session_replication_role = replica` for its own transaction: PostgreSQL's standard switch
(pg_restore and logical replication use it) under which ordinary triggers do not fire. It needs
a superuser, as the suite's tamper tests already do. The triggers stay as strict as in
production, and a test that TRUNCATEs by hand is refused like anyone else.
"""

from typing import Any


def allow_test_flush() -> None:
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush
    if getattr(original, "rollout_desk_test_flush", False):
        return

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> Any:
        if sql_list:
            # SET LOCAL: ends with the flush's own transaction (execute_sql_flush is atomic).
            sql_list = ["SET LOCAL session_replication_role = replica", *sql_list]
        return original(self, sql_list)

    execute_sql_flush.rollout_desk_test_flush = True  # type: ignore[attr-defined]
    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
