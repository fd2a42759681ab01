"""The admin writes only through services, so every change is validated and audited."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from registry.errors import DomainError
from registry.models import (
    ApiToken,
    AuditEvent,
    DeadLetter,
    Feature,
    ModelConfig,
    ModelVersion,
    Provider,
)
from registry.role_audit import acting_as
from registry.roles import Role, has_role
from registry.services import registry
from rollouts.admin_site import admin_site
from rollouts.models import Campaign, CampaignMember
from traffic.tokens import token_create, token_revoke


class AdminRoleMixin:
    """The Admin role decides, not Django's per-model permissions (which nobody maintains)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_add_permission(self, request) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_change_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_delete_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.ADMIN)


class AuditActorMixin:
    """Role changes are audited by registry.role_audit's receivers, whatever path makes them;
    the admin only says who acted, around every view that can save or delete."""

    def changeform_view(self, request, *args, **kwargs):
        with acting_as(request.user):
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]

    def changelist_view(self, request, *args, **kwargs):
        with acting_as(request.user):  # bulk actions, e.g. "delete selected groups"
            return super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]

    def delete_view(self, request, *args, **kwargs):
        with acting_as(request.user):
            return super().delete_view(request, *args, **kwargs)  # type: ignore[misc]


@admin.register(User, site=admin_site)
class RoleUserAdmin(AuditActorMixin, AdminRoleMixin, UserAdmin):
    # Users stay (audit events point at them); deactivate instead of deleting.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Group, site=admin_site)
class RoleGroupAdmin(AuditActorMixin, AdminRoleMixin, GroupAdmin):
    pass


class ReasonForm(forms.ModelForm):
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit trail.",
    )


class RoleAdmin(AdminRoleMixin, admin.ModelAdmin):
    """Admin-role users may do everything here except delete: the registry is history."""

    form = ReasonForm

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Provider, site=admin_site)
class ProviderAdmin(RoleAdmin):
    list_display = ["name", "api_style", "base_url", "api_key_env", "self_hosted", "is_simulator"]

    def save_model(self, request, obj, form, change):
        registry.provider_save(provider=obj, actor=request.user, reason=form.cleaned_data["reason"])


@admin.register(ModelVersion, site=admin_site)
class ModelVersionAdmin(RoleAdmin):
    list_display = ["model_id", "provider", "display_name", "released", "deprecates", "successor"]
    list_filter = ["provider"]
    search_fields = ["model_id", "display_name"]

    def save_model(self, request, obj, form, change):
        registry.model_version_save(
            version=obj, actor=request.user, reason=form.cleaned_data["reason"]
        )


@admin.register(ModelConfig, site=admin_site)
class ModelConfigAdmin(RoleAdmin):
    list_display = ["name", "model_version", "response_format", "locked", "archived", "created"]
    list_filter = ["archived", "locked"]
    readonly_fields = ["code", "revision_of", "locked", "archived"]
    actions = ["archive"]

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["reason"]
        if not change:
            registry.config_create(config=obj, actor=request.user, reason=reason)
            return
        saved = registry.config_revise(config=obj, actor=request.user, reason=reason)
        if saved.pk != obj.pk:
            self.message_user(
                request,
                f"'{obj}' is in use and cannot change, so your edits were saved as a new config "
                f"'{saved}'.",
                messages.WARNING,
            )

    @admin.action(description="Archive selected configs")
    def archive(self, request, queryset):
        for config in queryset:
            try:
                registry.config_archive(config=config, actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)


class FeatureForm(ReasonForm):
    def clean(self):
        data = super().clean() or {}
        switching = self.instance.pk and "served_config" in self.changed_data
        if switching and not data.get("reason", "").strip():
            self.add_error("reason", "Say why the served config changes; the audit keeps it.")
        return data


@admin.register(Feature, site=admin_site)
class FeatureAdmin(RoleAdmin):
    form = FeatureForm
    list_display = ["key", "name", "served_config", "previous_config", "pinned_until", "owner"]
    search_fields = ["key", "name"]
    readonly_fields = ["previous_config", "pinned_until"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "key"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["reason"]
        try:
            if not change:
                saved = registry.feature_create(
                    key=obj.key,
                    name=obj.name,
                    description=obj.description,
                    owner=obj.owner,
                    served_config=obj.served_config,
                    actor=request.user,
                    reason=reason,
                )
                obj.pk = saved.pk
                return
            new_config = obj.served_config
            if "served_config" in form.changed_data:
                obj.served_config = Feature.objects.get(pk=obj.pk).served_config
            registry.feature_update_details(feature=obj, actor=request.user, reason=reason)
            if "served_config" in form.changed_data:
                registry.feature_switch_config(
                    feature=obj, config=new_config, actor=request.user, reason=reason
                )
        except (DomainError, ValidationError) as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)


@admin.register(AuditEvent, site=admin_site)
class AuditEventAdmin(AdminRoleMixin, admin.ModelAdmin):
    list_display = ["id", "created", "actor_label", "action", "object_repr", "feature_key"]
    list_filter = ["action"]
    search_fields = ["object_repr", "reason", "actor_label"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeadLetter, site=admin_site)
class DeadLetterAdmin(AdminRoleMixin, admin.ModelAdmin):
    """Rows a batch write could not store, kept for an operator to read (never edited here:
    they are the evidence of what was lost)."""

    list_display = ["id", "created", "source", "request_id", "error"]
    list_filter = ["source"]
    search_fields = ["request_id", "error"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "features"]


_NEW_TOKEN = "_rollout_new_api_token"  # noqa: S105 - an attribute name, not a secret


@admin.register(ApiToken, site=admin_site)
class ApiTokenAdmin(RoleAdmin):
    form = ApiTokenForm  # type: ignore[assignment]  # a token form, not a reason form
    list_display = ["name", "prefix", "created", "revoked"]
    readonly_fields = ["prefix", "created", "revoked"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        # A token's scope is fixed at creation: make a new token rather than widen an old one.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        token, plaintext = token_create(
            name=form.cleaned_data["name"],
            features=list(form.cleaned_data["features"]),
            actor=request.user,
        )
        obj.pk = token.pk
        # Kept on this request only, for response_add: never in `messages`, whose default
        # storage is a cookie (it would sit in the browser and in every proxy log).
        setattr(request, _NEW_TOKEN, plaintext)

    def response_add(self, request, obj, post_url_continue=None):
        """The token page itself, in the answer to the creating POST (no redirect), so the
        plaintext exists in exactly one response and is never stored or cached."""
        plaintext = getattr(request, _NEW_TOKEN, None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/rollouts/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "title": f"API token for {obj.name}",
                "token": obj,
                "plaintext": plaintext,
                "opts": self.model._meta,
                "features": list(obj.features.order_by("key").values_list("key", flat=True)),
            },
        )
        add_never_cache_headers(response)
        return response

    def save_related(self, request, form, formsets, change):
        pass  # token_create set the features already

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token, actor=request.user, reason="revoked in the admin")


class CampaignMemberInline(admin.TabularInline):
    model = CampaignMember
    fields = ("feature", "candidate", "rollout", "problem")
    readonly_fields = fields
    extra = 0
    can_delete = False

    # The Admin role decides here too (AdminRoleMixin), and nothing is written from here.
    def has_view_permission(self, request, obj=None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign, site=admin_site)
class CampaignAdmin(AdminRoleMixin, admin.ModelAdmin):
    """Read-mostly: a campaign starts from its page (rollouts/services/campaigns.py creates its
    configs, rollouts and gates, audited); the admin shows it and edits nothing."""

    list_display = ["name", "from_version", "to_version", "deadline", "status", "created"]
    list_filter = ["status"]
    search_fields = ["name", "from_version__model_id", "to_version__model_id"]
    readonly_fields = [
        "code",
        "name",
        "from_version",
        "to_version",
        "deadline",
        "stale_days",
        "status",
        "note",
        "created_by",
        "created",
    ]
    inlines = [CampaignMemberInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
