from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from rollout_site.login import ThrottledLoginView
from rollout_site.metrics import metrics
from rollouts.admin_site import admin_site

admin.site = admin_site  # one admin, guarded by the Admin role (see rollouts/admin_site.py)

urlpatterns = [
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin's own sign-in form is a second way to guess passwords: the same throttled view.
    path("admin/login/", ThrottledLoginView.as_view(), name="admin_login"),
    path("admin/", admin_site.urls),
    path("api/v1/", include("rollouts.urls_api")),
    # Prometheus scrapes (token or network rule; README, "What to alert on").
    path("metrics", metrics, name="metrics"),
    path("simulator/v1/", include("traffic.simulator.urls")),
    path("", include("comparisons.urls")),
    path("evaluations/", include("evaluations.urls")),
    path("", include("rollouts.urls")),
]

# JSON under /api/ (never an HTML page there), Django's pages elsewhere; a database fault is a
# 503 with Retry-After (rollout_site/errors.py).
handler400 = "rollout_site.errors.bad_request"
handler403 = "rollout_site.errors.permission_denied"
handler404 = "rollout_site.errors.page_not_found"
handler500 = "rollout_site.errors.server_error"
