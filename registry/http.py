"""Request types for the pages' views (django-htmx's recommended typing)."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A page request behind `login_required`: the user is signed in, and `htmx` says whether
    htmx sent it (the view then answers with a fragment)."""

    htmx: HtmxDetails
    user: User  # login_required: never AnonymousUser here
