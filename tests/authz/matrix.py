"""The declared authorization matrix: every URL pattern of the project by every actor.

A row is one request (pattern, method, a real URL of the world in tests/authz/world.py) and the
outcome each actor must get. tests/authz/test_matrix.py fails when a pattern has no row, and runs
every cell; tests/test_get_writes_nothing.py runs every GET cell and checks it wrote nothing.

Outcomes: OK (2xx/3xx as the page naturally answers, not a sign-in redirect), LOGIN (a redirect
to the sign-in page, the admin's for /admin/), 401 (JSON), 403, 404, 405.

The rules the rows spell out:
- Pages: anonymous callers are sent to sign in; every signed-in person reads the registry,
  rollouts, evaluations, campaigns and audit; pairs and review are for reviewers (review) and
  release managers (pairs, adjudication); writing needs a release manager. Admin implies every
  role. An API token is not a session: on a page it is anonymous.
- API (/api/v1/): no credentials or a revoked token is 401; signed-in people read; writes take a
  token (403 `token_required` for a session), except rollback, which takes a signed-in release
  manager. A token of another feature gets 403 where the caller names the feature by key (the
  key is the request's subject, as in the gateway) and 404 where it names an object by code
  (rollouts, gates: another feature's objects are not shown to exist).
- /admin/ is for the Admin role: everyone else is sent to the admin's sign-in (ADMIN_PREFIX).
"""

from collections.abc import Mapping

from .matrix_admin import ADMIN_ROWS
from .symbols import (
    ACTORS,
    ADMIN,
    ALL_NO_METHOD,
    CONFLICT,
    DENIED,
    INVALID,
    MISSING,
    OK,
    PAIR_READERS,
    PEOPLE,
    PUBLIC,
    READ,
    RELEASE,
    RELEASE_MANAGERS,
    REVIEWER,
    REVIEWERS,
    TOKEN,
    TOKENS,
    UNAUTH,
    VIEWER,
    WRITE,
    Row,
    api,
    page,
)


def _rows() -> list[Row]:
    r: list[Row] = []

    def get(route: str, url: str, expect: Mapping[str, str], **kw) -> None:
        r.append(Row(route, "GET", url, expect, **kw))

    def post(route: str, url: str, expect: Mapping[str, str], **kw) -> None:
        r.append(Row(route, "POST", url, expect, **kw))

    # --- Sign-in (public) ---------------------------------------------------------------
    # Throttling off: it has its own tests, and its counts outlive a test's transaction.
    unthrottled = {"LOGIN_FAILURES_PER_USERNAME": 0, "LOGIN_FAILURES_PER_IP": 0}
    get("login/", "/login/", PUBLIC)
    post(
        "login/",
        "/login/",
        PUBLIC,
        data={"username": "viewer", "password": "not-it"},
        settings=unthrottled,
    )
    get("logout/", "/logout/", ALL_NO_METHOD)  # a GET must never sign anyone out
    post("logout/", "/logout/", PUBLIC)

    # --- Dashboard, features, audit ------------------------------------------------------
    get("", "/", READ)
    get("features/", "/features/", READ)
    get("features/<slug:key>/", "/features/{feature}/", READ)
    get("features/<slug:key>/", "/features/{feature}/?format=csv", READ)
    post(
        "features/<slug:key>/rollback/",
        "/features/{feature}/rollback/",
        WRITE,
        data={"rollout": "{rollout}", "reason": "authz"},
    )
    post(
        "features/<slug:key>/revert/",
        "/features/{feature}/revert/",
        WRITE,
        data={"served": "{served_code}", "reason": "authz"},
    )
    get("features/<slug:key>/golden/", "/features/{feature}/golden/", WRITE)
    post("features/<slug:key>/golden/", "/features/{feature}/golden/", WRITE, data={})
    get("audit/", "/audit/", READ)
    get("audit/", "/audit/?format=csv", READ)
    get("audit/served/", "/audit/served/?feature={feature}&at=2026-01-01T00:00:00Z", READ)

    # --- Rollouts, imports, replays, campaigns -------------------------------------------
    get("rollouts/", "/rollouts/", READ)
    get("rollouts/new/", "/rollouts/new/?feature={feature}", WRITE)
    post("rollouts/new/", "/rollouts/new/", WRITE, data={"feature": "{feature}"})
    get("rollouts/offline/new/", "/rollouts/offline/new/", WRITE)
    post("rollouts/offline/new/", "/rollouts/offline/new/", WRITE, data={})
    get("rollouts/<uuid:code>/", "/rollouts/{rollout}/", READ)
    get("rollouts/<uuid:code>/gate-report/", "/rollouts/{rollout}/gate-report/", READ)
    get("rollouts/<uuid:code>/charts/", "/rollouts/{rollout}/charts/", READ)
    get("rollouts/<uuid:code>/import/", "/rollouts/{rollout}/import/", WRITE)
    post("rollouts/<uuid:code>/import/", "/rollouts/{rollout}/import/", WRITE, data={})
    post(
        "rollouts/<uuid:code>/import/confirm/",
        "/rollouts/{rollout}/import/confirm/",
        WRITE,
        data={"batch": ""},
    )
    get("rollouts/<uuid:code>/replay/", "/rollouts/{rollout}/replay/", WRITE)
    post("rollouts/<uuid:code>/replay/", "/rollouts/{rollout}/replay/", WRITE, data={})
    get("replays/<uuid:code>/", "/replays/{replay}/", WRITE)
    post("replays/<uuid:code>/resume/", "/replays/{replay}/resume/", WRITE)
    from rollouts.services.plan import ACTIONS

    for action in ACTIONS:  # one pattern, one row per action: each reaches its own handler
        post(
            "rollouts/<uuid:code>/<slug:action>/",
            f"/rollouts/{{rollout}}/{action}/",
            WRITE,
            data={"reason": "authz", "note": "authz", "confirm": "yes"},
        )
    unknown = {**WRITE, RELEASE: MISSING, ADMIN: MISSING}
    post("rollouts/<uuid:code>/<slug:action>/", "/rollouts/{rollout}/launch/", unknown)
    get("campaigns/", "/campaigns/", READ)
    get("campaigns/new/", "/campaigns/new/", WRITE)
    post("campaigns/new/", "/campaigns/new/", WRITE, data={})
    get("campaigns/<uuid:code>/", "/campaigns/{campaign}/", READ)

    # --- Operations: circuit breakers for release managers; closing one by hand is the admin's
    get("operations/", "/operations/", WRITE)
    post(
        "operations/providers/<uuid:code>/close-circuit/",
        "/operations/providers/{provider_code}/close-circuit/",
        page(ADMIN),
        data={"reason": "authz"},
    )

    # --- Review and pairs -------------------------------------------------------------------
    get("review/", "/review/", page(*REVIEWERS), get_writes=frozenset({"comparisons_reservation"}))
    get("review/progress/", "/review/progress/", page(*REVIEWERS))
    get("review/recent/", "/review/recent/", page(*REVIEWERS))
    post("review/undo/", "/review/undo/", page(*REVIEWERS))
    post(
        "review/<uuid:code>/label/",
        "/review/{open_pair}/label/",
        page(*REVIEWERS),
        data={"choice": "left", "comment": "authz"},
    )
    post("review/<uuid:code>/skip/", "/review/{open_pair}/skip/", page(*REVIEWERS))
    get("review/adjudicate/", "/review/adjudicate/", page(*PAIR_READERS))
    get(
        "review/adjudicate/<uuid:code>/", "/review/adjudicate/{disputed_pair}/", page(*PAIR_READERS)
    )
    post(
        "review/adjudicate/<uuid:code>/",
        "/review/adjudicate/{disputed_pair}/",
        page(*PAIR_READERS),
        data={"choice": "same", "note": "authz"},
    )
    get("pairs/", "/pairs/", page(*PAIR_READERS))
    get("pairs/<uuid:code>/", "/pairs/{open_pair}/", page(*PAIR_READERS))
    # Reviewers who labelled the pair may turn it into a case (README, golden cases).
    get(
        "pairs/<uuid:code>/add-to-suite/",
        "/pairs/{labelled_pair}/add-to-suite/",
        page(*PAIR_READERS),
    )
    get(
        "pairs/<uuid:code>/add-to-suite/",
        "/pairs/{open_pair}/add-to-suite/",
        # Not labelled yet: a reviewer may not see which side is the candidate; a release
        # manager is told that an unreviewed pair has no preferred answer to make a case of.
        {**page(*RELEASE_MANAGERS), REVIEWER: DENIED, RELEASE: CONFLICT, ADMIN: CONFLICT},
    )
    post(
        "pairs/<uuid:code>/add-to-suite/",
        "/pairs/{labelled_pair}/add-to-suite/",
        page(*PAIR_READERS),
        data={},
    )

    # --- Evaluations ---------------------------------------------------------------------
    e = "evaluations/"
    get(e, "/evaluations/", READ)
    get(e + "suites/new/", "/evaluations/suites/new/", WRITE)
    post(e + "suites/new/", "/evaluations/suites/new/", WRITE, data={})
    get(e + "import/", "/evaluations/import/", WRITE)
    post(e + "import/", "/evaluations/import/", WRITE, data={})
    post(e + "import/confirm/", "/evaluations/import/confirm/", WRITE, data={"token": "x"})
    get(e + "suites/<uuid:code>/", "/evaluations/suites/{suite}/", READ)
    get(e + "suites/<uuid:code>/edit/", "/evaluations/suites/{suite}/edit/", WRITE)
    post(e + "suites/<uuid:code>/edit/", "/evaluations/suites/{suite}/edit/", WRITE, data={})
    post(
        e + "suites/<uuid:code>/run/",
        "/evaluations/suites/{suite}/run/",
        WRITE,
        data={"config": "{served_pk}", "trials": "1"},
    )
    get(e + "suites/<uuid:code>/cases/new/", "/evaluations/suites/{suite}/cases/new/", WRITE)
    post(
        e + "suites/<uuid:code>/cases/new/",
        "/evaluations/suites/{suite}/cases/new/",
        WRITE,
        data={},
    )
    get(e + "suites/<uuid:code>/cases.jsonl", "/evaluations/suites/{suite}/cases.jsonl", READ)
    get(e + "cases/<uuid:code>/edit/", "/evaluations/cases/{case}/edit/", WRITE)
    post(e + "cases/<uuid:code>/edit/", "/evaluations/cases/{case}/edit/", WRITE, data={})
    post(e + "cases/<uuid:code>/delete/", "/evaluations/cases/{case}/delete/", WRITE)
    post(e + "cases/<uuid:code>/publish/", "/evaluations/cases/{case}/publish/", WRITE)
    get(e + "runs/<uuid:code>/", "/evaluations/runs/{run}/", READ)
    post(e + "runs/<uuid:code>/cancel/", "/evaluations/runs/{run}/cancel/", WRITE)
    get(e + "runs/<uuid:code>/export.csv", "/evaluations/runs/{run}/export.csv", READ)
    get(e + "runs/<uuid:code>/export.json", "/evaluations/runs/{run}/export.json", READ)

    # --- The application API ---------------------------------------------------------------
    a = "api/v1/"
    get(a + "openapi.json", "/api/v1/openapi.json", PUBLIC)
    get(a + "health", "/api/v1/health", PUBLIC)
    get(a + "features/<slug:key>/served", "/api/v1/features/{feature}/served", api(other=DENIED))
    get(
        a + "features/<slug:key>/assignment",
        "/api/v1/features/{feature}/assignment?unit=u1",
        api(other=DENIED),
    )
    writes_need_token = api(people=DENIED, token=OK, other=DENIED)
    post(
        a + "ingest",
        "/api/v1/ingest",
        writes_need_token,
        json={
            "feature": "{feature}",
            "request_id": "authz-ingest-1",
            "output": "On its way.",
            "messages": [{"role": "user", "content": "Where is my parcel?"}],
        },
    )
    # A batch is all or nothing: one record of a feature the token does not hold refuses it.
    mixed = [
        {"feature": key, "request_id": f"authz-mixed-{key}", "output": "On its way.",
         "messages": [{"role": "user", "content": "Where is my parcel?"}]}
        for key in ("{feature}", "{other_feature}")
    ]  # fmt: skip
    post(a + "ingest", "/api/v1/ingest", {**writes_need_token, TOKEN: DENIED},
         json={"records": mixed})  # fmt: skip
    post(
        a + "feedback",
        "/api/v1/feedback",
        writes_need_token,
        json={"feature": "{feature}", "request_id": "{request_id}", "thumbs": "down"},
    )
    get(a + "rollouts/<uuid:code>", "/api/v1/rollouts/{rollout}", api(other=MISSING))
    people_rollback = {VIEWER: DENIED, REVIEWER: DENIED, RELEASE: OK, ADMIN: OK}
    post(
        a + "rollouts/<uuid:code>/rollback",
        "/api/v1/rollouts/{rollout}/rollback",
        api(people=people_rollback, token=DENIED, other=MISSING),
        json={"reason": "authz"},
    )
    post(
        a + "rollouts/<uuid:code>/pairs",
        "/api/v1/rollouts/{rollout}/pairs",
        api(people=DENIED, token=OK, other=MISSING),
        json={
            "records": [
                {
                    "request_id": "authz-ext-1",
                    "input": "How do I return an item?",
                    "baseline_output": "Use the form.",
                    "candidate_output": "Open Orders > Return.",
                    "baseline_model": "gpt-4o-2024-05-13",
                    "candidate_model": "gpt-4o-2024-11-20",
                }
            ]
        },
    )
    post(
        a + "gates",
        "/api/v1/gates",
        writes_need_token,
        json={"feature": "{feature}", "candidate": "{candidate_code}"},
    )
    # Another feature's config is not this feature's candidate (rollouts/services/candidates.py),
    # for a pipeline's token as for the rollout page.
    post(
        a + "gates",
        "/api/v1/gates",
        {**writes_need_token, TOKEN: INVALID},
        json={"feature": "{feature}", "candidate": "{other_served_code}"},
    )
    get(a + "gates/<uuid:code>", "/api/v1/gates/{gate}", api(other=MISSING))

    # --- Metrics: a scraper's token, or a direct connection from an allowed network (the
    # test client's 127.0.0.1 is loopback); an API token is not the metrics token.
    scrape = {**dict.fromkeys(PEOPLE, OK), **dict.fromkeys(TOKENS, UNAUTH)}
    get("metrics", "/metrics", scrape)
    closed = {**dict.fromkeys(PEOPLE, DENIED), **dict.fromkeys(TOKENS, UNAUTH)}
    get("metrics", "/metrics", closed, settings={"METRICS_ALLOWED_NETWORKS": []})

    # --- The simulator: a stand-in provider, open like one (off unless SIMULATOR_ENABLED) ----
    s = "simulator/v1/"
    on = {"SIMULATOR_ENABLED": True, "SIMULATOR_LATENCY_SCALE": 0}
    get(s + "models", "/simulator/v1/models", PUBLIC, settings=on)
    get(
        s + "models/<str:model_id>", "/simulator/v1/models/sim-fast-2025-01-01", PUBLIC, settings=on
    )
    post(
        s + "chat/completions",
        "/simulator/v1/chat/completions",
        PUBLIC,
        settings=on,
        json={"model": "sim-fast-2025-01-01", "messages": [{"role": "user", "content": "hi"}]},
    )
    get(
        s + "^(?P<path>.*)$", "/simulator/v1/elsewhere", dict.fromkeys(ACTORS, MISSING), settings=on
    )
    get(s + "models", "/simulator/v1/models", dict.fromkeys(ACTORS, MISSING))  # off: 404

    return r + ADMIN_ROWS


ROWS: list[Row] = _rows()
GET_ROWS = [row for row in ROWS if row.method == "GET"]
WRITE_ROWS = [row for row in ROWS if row.method != "GET"]


def cells(rows: list[Row]) -> list[tuple[Row, str]]:
    return [(row, actor) for row in rows for actor in ACTORS]


# The gateway is its own ASGI app (traffic/gateway/app.py), outside Django's URLs.
GATEWAY_PATHS = ("/v1/chat/completions", "/v1/models")
