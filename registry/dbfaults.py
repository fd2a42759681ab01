"""What counts as "the database cannot be reached right now", for everything that degrades
gracefully during an outage (the routing table, the gateway's write-behind log, the 503 answers).

Only connectivity faults belong here: a refused or cut connection, a connection that closed under
us, a server shutting down. Integrity and data errors are bugs or bad rows, never a reason to
wait and retry.
"""

import django.db
import psycopg

DB_FAULTS: tuple[type[BaseException], ...] = (
    django.db.OperationalError,
    django.db.InterfaceError,
    # Django wraps driver errors raised through its cursors and connect(); these are for the
    # few paths that reach the driver directly.
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

# What a 503 asks the client to wait before retrying; a restarting database is usually back
# within seconds, and a client that waits longer only loses freshness.
RETRY_AFTER_SECONDS = 5


def is_db_fault(exc: BaseException | None) -> bool:
    return isinstance(exc, DB_FAULTS)


def describe(exc: BaseException) -> str:
    """One line for the log: the error's kind and its first line (the driver's text names host
    and port, never a password)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
