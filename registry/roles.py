"""Roles are Django groups. Views decide permissions with these helpers, never templates alone."""

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest


class Role(models.TextChoices):
    REVIEWER = "Reviewer", "Reviewer"
    RELEASE_MANAGER = "Release manager", "Release manager"
    ADMIN = "Admin", "Admin"


def user_roles(user: User | AnonymousUser) -> frozenset[str]:
    """The user's roles, cached on the user object for the request. Admin implies every role."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_rollout_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        if user.is_superuser or Role.ADMIN in names:
            names = set(Role.values)
        cached = frozenset(names)
        user._rollout_roles = cached  # type: ignore[attr-defined]
    return cached


def has_role(user: User | AnonymousUser, role: Role) -> bool:
    return role in user_roles(user)


def require_role(user: User | AnonymousUser, role: Role) -> None:
    if not has_role(user, role):
        raise PermissionDenied(f"This needs the {role.label} role.")


def role_label(user: User | AnonymousUser) -> str:
    roles = user_roles(user)
    for role in (Role.ADMIN, Role.RELEASE_MANAGER, Role.REVIEWER):
        if role in roles:
            return str(role.label)
    return "Viewer"


def roles_context(request: HttpRequest) -> dict:
    user = request.user
    return {
        "role_label": role_label(user),
        "is_release_manager": has_role(user, Role.RELEASE_MANAGER),
        "is_reviewer": has_role(user, Role.REVIEWER),
        "is_admin": has_role(user, Role.ADMIN),
    }
