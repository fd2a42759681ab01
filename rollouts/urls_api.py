from django.urls import path

from .views import api

urlpatterns = [
    path("features/<slug:key>/served", api.feature_served, name="api_feature_served"),
]
