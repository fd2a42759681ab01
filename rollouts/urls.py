from django.urls import path

from .views import (
    audit,
    campaigns,
    canary,
    features,
    golden,
    imports,
    operations,
    rollout_actions,
    rollout_list,
    rollouts,
)

urlpatterns = [
    path("", features.home, name="home"),
    path("features/", features.feature_list, name="feature_list"),
    path("features/<slug:key>/", features.feature_detail, name="feature_detail"),
    path("features/<slug:key>/rollback/", features.feature_rollback, name="feature_rollback"),
    path("features/<slug:key>/revert/", features.feature_revert, name="feature_revert"),
    path("features/<slug:key>/golden/", golden.golden_from_traffic, name="golden_from_traffic"),
    path("pairs/<uuid:code>/add-to-suite/", golden.golden_from_pair, name="golden_from_pair"),
    path("rollouts/", rollout_list.rollout_list, name="rollout_list"),
    path("rollouts/new/", rollouts.rollout_new, name="rollout_new"),
    path("rollouts/offline/new/", imports.offline_new, name="offline_new"),
    path("rollouts/<uuid:code>/", rollouts.rollout_detail, name="rollout_detail"),
    # Before rollout_act, whose <slug:action> would take "import" and "replay".
    path("rollouts/<uuid:code>/import/", imports.import_upload, name="import_upload"),
    path("rollouts/<uuid:code>/import/confirm/", imports.import_confirm, name="import_confirm"),
    path("rollouts/<uuid:code>/replay/", imports.replay_new, name="replay_new"),
    path("replays/<uuid:code>/", imports.replay_detail, name="replay_detail"),
    path("replays/<uuid:code>/resume/", imports.replay_resume, name="replay_resume"),
    path("rollouts/<uuid:code>/gate-report/", rollouts.rollout_gate, name="rollout_gate"),
    path("rollouts/<uuid:code>/charts/", canary.canary_charts, name="rollout_canary_charts"),
    path("rollouts/<uuid:code>/<slug:action>/", rollout_actions.rollout_act, name="rollout_act"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<uuid:code>/", campaigns.campaign_detail, name="campaign_detail"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/served/", audit.audit_served, name="audit_served"),
    path("operations/", operations.operations, name="operations"),
    path(
        "operations/providers/<uuid:code>/close-circuit/",
        operations.circuit_reset,
        name="circuit_reset",
    ),
]
