"""One access helper per object type: 404 for what does not exist, PermissionDenied for the
wrong role. Every signed-in user reads suites and runs; writing needs a release manager."""

from uuid import UUID

from django.http import Http404, HttpRequest

from evaluations.models import Case, Run, Suite
from registry.roles import Role, require_role


def get_suite_for_user(request: HttpRequest, code: UUID, *, act: bool = False) -> Suite:
    if act:
        require_role(request.user, Role.RELEASE_MANAGER)
    suite = (
        Suite.objects.select_related("feature", "judge_config__model_version", "created_by")
        .filter(code=code)
        .first()
    )
    if suite is None:
        raise Http404("No such suite.")
    return suite


def get_case_for_user(request: HttpRequest, code: UUID, *, act: bool = False) -> Case:
    if act:
        require_role(request.user, Role.RELEASE_MANAGER)
    case = Case.objects.select_related("suite__feature").filter(code=code).first()
    if case is None:
        raise Http404("No such case.")
    return case


def get_run_for_user(request: HttpRequest, code: UUID, *, act: bool = False) -> Run:
    if act:
        require_role(request.user, Role.RELEASE_MANAGER)
    run = (
        Run.objects.select_related(
            "suite__feature", "config__model_version", "created_by", "cancelled_by", "gate"
        )
        .filter(code=code)
        .first()
    )
    if run is None:
        raise Http404("No such run.")
    return run
