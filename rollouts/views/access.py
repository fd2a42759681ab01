"""One access helper per object type: 404 for what does not exist, PermissionDenied for the
wrong role. Every signed-in user may read the registry and the audit trail."""

from django.http import Http404, HttpRequest

from registry.models import Feature


def get_feature_for_user(request: HttpRequest, key: str) -> Feature:
    # Reads are open to every signed-in user (the views are login_required); writes add
    # require_role() in the view that writes.
    try:
        return Feature.objects.select_related(
            "served_config__model_version__provider", "previous_config__model_version__provider"
        ).get(key=key)
    except Feature.DoesNotExist:
        raise Http404(f"No feature with key '{key}'.") from None
