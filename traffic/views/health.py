"""`GET /api/v1/health`: what an operator or a probe checks first.

Public (a load balancer has no token): counts and ages only, never a payload. The recorder
figures are this process's (each gateway process keeps its own write-behind buffer); the
dead-letter count is the database's, for all processes. 200 while healthy, 503 when the
database is unreachable or the oldest unwritten gateway log waits longer than STUCK_SECONDS.
"""

from django.http import HttpRequest, JsonResponse

from registry.dbfaults import DB_FAULTS, RETRY_AFTER_SECONDS
from registry.models import DeadLetter
from traffic.gateway.recorder import stats as recorder_stats
from traffic.routing import routing_age
from traffic.views.apiauth import api_methods

# A log normally waits at most FLUSH_SECONDS (0.2 s) in memory; a minute means writes stall.
STUCK_SECONDS = 60.0


@api_methods("GET", "HEAD")
def health(request: HttpRequest) -> JsonResponse:
    recorder = recorder_stats()
    if not request.user.is_authenticated:
        recorder.pop("last_error", None)  # the driver's text names the database's host
    try:
        dead_letters: dict[str, object] = {
            "total": DeadLetter.objects.count(),
            "newest": DeadLetter.objects.order_by("-created")
            .values_list("created", flat=True)
            .first(),
        }
        database = "ok"
    except DB_FAULTS:
        dead_letters, database = {"total": None, "newest": None}, "unreachable"
    waiting = recorder.get("oldest_buffered_age_seconds")
    stuck = isinstance(waiting, int | float) and waiting > STUCK_SECONDS
    healthy = database == "ok" and not stuck
    age = routing_age()
    response = JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            # Seconds since the routing table was confirmed, while the database is unreachable.
            "routing_age_seconds": None if age is None else round(age, 3),
            "dead_letters": dead_letters,
            "recorder": recorder,
        },
        status=200 if healthy else 503,
    )
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
