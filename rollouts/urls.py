from django.urls import path

from .views import audit, features, rollouts

urlpatterns = [
    path("", features.home, name="home"),
    path("features/", features.feature_list, name="feature_list"),
    path("features/<slug:key>/", features.feature_detail, name="feature_detail"),
    path("rollouts/", rollouts.rollout_list, name="rollout_list"),
    path("rollouts/new/", rollouts.rollout_new, name="rollout_new"),
    path("rollouts/<uuid:code>/", rollouts.rollout_detail, name="rollout_detail"),
    path("rollouts/<uuid:code>/<slug:action>/", rollouts.rollout_act, name="rollout_act"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/served/", audit.audit_served, name="audit_served"),
]
