from django.contrib.admin import AdminSite
from django.http import HttpRequest

from registry.roles import Role, has_role


class RolloutAdminSite(AdminSite):
    site_header = "Rollout Desk admin"
    site_title = "Rollout Desk admin"
    index_title = "Registry, users and roles"

    def has_permission(self, request: HttpRequest) -> bool:
        # The admin is for the Admin role only, whatever per-model permissions a user holds.
        return request.user.is_active and has_role(request.user, Role.ADMIN)


admin_site = RolloutAdminSite(name="admin")

# Lower layers define their admin classes without importing this site (imports point down);
# the site registers them.
from evaluations.admin import register as register_evaluations  # noqa: E402

register_evaluations(admin_site)
