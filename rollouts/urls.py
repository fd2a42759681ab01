from django.urls import path

from .views import audit, features

urlpatterns = [
    path("", features.home, name="home"),
    path("features/", features.feature_list, name="feature_list"),
    path("features/<slug:key>/", features.feature_detail, name="feature_detail"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/served/", audit.audit_served, name="audit_served"),
]
