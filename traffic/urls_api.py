from django.urls import path

from traffic.views import api, health, openapi

urlpatterns = [
    path("openapi.json", openapi.schema, name="api_openapi"),
    path("features/<slug:key>/served", api.feature_served, name="api_feature_served"),
    path("features/<slug:key>/assignment", api.feature_assignment, name="api_assignment"),
    path("ingest", api.ingest_calls, name="api_ingest"),
    path("feedback", api.feedback, name="api_feedback"),
    path("health", health.health, name="api_health"),
]
