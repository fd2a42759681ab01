import uuid

from django.conf import settings
from django.db import models

from .registry import Feature


class ApiToken(models.Model):
    """An application's credential. The token is shown once; only a keyed hash is stored, found
    by its public prefix (`rdk_<prefix>_<secret>`)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, help_text="Which application uses it")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    features = models.ManyToManyField(Feature, related_name="+", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (rdk_{self.prefix}_…)"
