"""Mounted at /simulator/v1/, so an OpenAI client's base_url is http://host/simulator/v1."""

from django.urls import path, re_path

from . import views

app_name = "simulator"

urlpatterns = [
    path("chat/completions", views.chat_completions, name="chat_completions"),
    path("models", views.models, name="models"),
    path("models/<str:model_id>", views.model_detail, name="model_detail"),
    # Anything else under the prefix is a JSON 404 too, never the site's HTML page.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not_found"),
]
