"""The admin's rows. Every /admin/ pattern falls under one rule (rollouts/admin_site.py): only the
Admin role gets in, everyone else is sent to the admin's sign-in page. The rows below test that
rule on a representative page of every kind (index, app index, each model's list, add, change,
history and delete, the password pages, the shortcut, the catch-all) and say what the admin
gets: the registry is never deleted and the audit trail is read-only, so some pages are 403 even
for the admin. tests/authz/test_matrix.py checks that every registered model has its list row."""

from .symbols import ACTORS, ADMIN, DENIED, MISSING, OK, PUBLIC, Row, admin_only

# (model path, admin may add, admin may delete, object placeholder or None)
MODELS = [
    ("rollouts/provider", True, False, "provider_pk"),
    ("rollouts/modelversion", True, False, "version_pk"),
    ("rollouts/modelconfig", True, False, "served_pk"),
    ("rollouts/feature", True, False, "feature_pk"),
    ("rollouts/auditevent", False, False, "event_pk"),
    ("rollouts/deadletter", False, False, None),
    ("rollouts/apitoken", True, False, "token_pk"),
    ("rollout_control/campaign", False, False, "campaign_pk"),
    ("evaluations/suite", True, False, "suite_pk"),
    ("evaluations/run", False, False, "run_pk"),
    ("evaluations/gate", False, False, "gate_pk"),
    ("auth/user", True, False, "user_pk"),
    ("auth/group", True, True, "group_pk"),
]


def _rows() -> list[Row]:
    rows: list[Row] = []

    def get(route: str, url: str, admin: str = OK) -> None:
        rows.append(Row(route, "GET", url, admin_only(admin)))

    get("admin/", "/admin/")
    for app in ("rollouts", "rollout_control", "evaluations", "auth"):
        get("admin/^(?P<app_label>evaluations|auth|rollouts|rollout_control)/$", f"/admin/{app}/")
    for model, add, delete, obj in MODELS:
        app, name = model.split("/")
        prefix = f"admin/{app}/{name}/"
        get(prefix, f"/admin/{model}/")
        get(prefix + "add/", f"/admin/{model}/add/", OK if add else DENIED)
        if obj:
            pk = "{" + obj + "}"
            get(prefix + "<path:object_id>/change/", f"/admin/{model}/{pk}/change/")
            get(prefix + "<path:object_id>/history/", f"/admin/{model}/{pk}/history/")
            delete_outcome = OK if delete else DENIED
            get(prefix + "<path:object_id>/delete/", f"/admin/{model}/{pk}/delete/", delete_outcome)
            # The bare object URL redirects to its change page.
            get(prefix + "<path:object_id>/", f"/admin/{model}/{pk}/")
    get("admin/auth/user/<id>/password/", "/admin/auth/user/{user_pk}/password/")
    get("admin/password_change/", "/admin/password_change/")
    get("admin/password_change/done/", "/admin/password_change/done/")
    get("admin/jsi18n/", "/admin/jsi18n/")
    # Without its query the autocomplete view refuses even the admin.
    get("admin/autocomplete/", "/admin/autocomplete/", DENIED)
    get(
        "admin/r/<path:content_type_id>/<path:object_id>/", "/admin/r/{user_ct}/{user_pk}/", MISSING
    )  # users have no page outside the admin
    get("admin/(?P<url>.*)$", "/admin/no-such-page/", MISSING)
    rows.append(Row("admin/login/", "GET", "/admin/login/", PUBLIC))
    rows.append(Row("admin/logout/", "POST", "/admin/logout/", PUBLIC))
    # Writes: an add form posted empty (the admin sees its errors), the token revoke action.
    rows.append(
        Row(
            "admin/rollouts/provider/add/",
            "POST",
            "/admin/rollouts/provider/add/",
            admin_only(OK),
            data={},
        )
    )
    rows.append(
        Row(
            "admin/rollouts/apitoken/",
            "POST",
            "/admin/rollouts/apitoken/",
            admin_only(OK),
            data={"action": "revoke", "_selected_action": "{token_pk}"},
        )
    )
    rows.append(
        Row(
            "admin/auth/user/<path:object_id>/change/",
            "POST",
            "/admin/auth/user/{user_pk}/change/",
            admin_only(OK),
            data={},
        )
    )
    assert all(set(row.expect) == set(ACTORS) for row in rows)
    return rows


ADMIN_ROWS = _rows()
__all__ = ["ADMIN", "ADMIN_ROWS", "MODELS"]
