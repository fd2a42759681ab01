"""Admin classes for suites, cases, runs and gates. The project's one admin site lives in a
higher layer (rollouts/admin_site.py), which calls `register(site)`; nothing registers on
Django's default site from here.

Suites and cases are written through evaluations/services/suites.py (validated, audited);
runs and gates are read-only here: they change only through their services."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from evaluations.case_fields import clean_assertions_of, clean_messages, clean_variables
from evaluations.models import Case, Gate, Run, Suite
from evaluations.services import suites as services
from registry.errors import DomainError
from registry.roles import Role, has_role

T = TypeVar("T")

# django-stubs' generic forms of Django's classes; at run time they are not subscriptable
# (django-stubs-ext's monkeypatch is a dev dependency only).
if TYPE_CHECKING:
    CaseFormBase = forms.ModelForm[Case]
    CaseInlineBase = admin.StackedInline[Case, Suite]
    SuiteAdminBase = admin.ModelAdmin[Suite]
    RunAdminBase = admin.ModelAdmin[Run]
    GateAdminBase = admin.ModelAdmin[Gate]
else:
    CaseFormBase = forms.ModelForm
    CaseInlineBase = admin.StackedInline
    SuiteAdminBase = RunAdminBase = GateAdminBase = admin.ModelAdmin


class AdminRoleMixin:
    """The Admin role decides, as on the rest of the site (rollouts/admin.py)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)


class ReadOnlyMixin(AdminRoleMixin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseAdminForm(CaseFormBase):
    """The same save-time checks as the pages: a malformed regex or schema is refused on the
    assertions field, naming the entry."""

    class Meta:
        model = Case
        fields = list(services.CASE_FIELDS)

    def _named(self, field: str, clean: Callable[[object], T]) -> T:
        try:
            return clean(self.cleaned_data.get(field))
        except ValidationError as exc:
            named = exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}
            raise ValidationError(
                [f"{key}: {' '.join(msgs)}" for key, msgs in named.items()]
            ) from None

    def clean_assertions(self) -> list[dict[str, Any]]:
        return self._named("assertions", clean_assertions_of)

    def clean_messages(self) -> list[dict[str, Any]]:
        return self._named("messages", clean_messages)

    def clean_variables(self) -> dict[str, Any]:
        return self._named("variables", clean_variables)


class CaseInline(AdminRoleMixin, CaseInlineBase):
    model = Case
    form = CaseAdminForm
    extra = 0
    show_change_link = False


SUITE_FIELDS = ("name", "description", "prompt", "threshold_pp", "judge_config", "active")


class SuiteAdmin(AdminRoleMixin, SuiteAdminBase):
    list_display = ["name", "feature", "active", "case_count", "created"]
    list_filter = ["active", "feature"]
    search_fields = ["name", "feature__key"]
    fields = ["feature", *SUITE_FIELDS]
    inlines = [CaseInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Suite]:
        return super().get_queryset(request).select_related("feature").annotate(n=Count("cases"))

    @admin.display(description="cases", ordering="n")
    def case_count(self, obj: Suite) -> int:
        return getattr(obj, "n", 0)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["feature"] if obj else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # runs point at suites; make a suite inactive instead

    def save_model(self, request: HttpRequest, obj: Suite, form: Any, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in SUITE_FIELDS}
        if change:
            services.suite_update(suite=obj, actor=request.user, **fields)
        else:
            saved = services.suite_create(feature=obj.feature, actor=request.user, **fields)
            obj.pk, obj.code = saved.pk, saved.code

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each case through its service: created, updated or deleted with an audit event."""
        if formset.model is not Case:
            return super().save_formset(request, form, formset, change)
        suite = form.instance
        # What the admin's change message (the LogEntry) reads, as formset.save() would set.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for case_form in formset.forms:
            if not case_form.has_changed() and not formset._should_delete_form(case_form):
                continue
            case = case_form.instance
            try:
                if formset._should_delete_form(case_form):
                    if case.pk:
                        services.case_delete(case=case, actor=request.user)
                        formset.deleted_objects.append(case)
                    continue
                data = {name: case_form.cleaned_data[name] for name in CaseAdminForm.Meta.fields}
                if case.pk:
                    saved = services.case_update(case=case, actor=request.user, **data)
                    formset.changed_objects.append((saved, case_form.changed_data))
                else:
                    saved = services.case_create(suite=suite, actor=request.user, **data)
                    formset.new_objects.append(saved)
            except (DomainError, ValidationError) as exc:
                self.message_user(request, f"Case '{case.name}' not saved: {exc}", messages.ERROR)
        return None


class RunAdmin(ReadOnlyMixin, RunAdminBase):
    list_display = [
        "code",
        "suite",
        "config",
        "trials",
        "status",
        "side",
        "result_count",
        "created",
    ]
    list_filter = ["status"]
    search_fields = ["suite__name", "suite__feature__key"]
    readonly_fields = (
        "code",
        "suite",
        "config",
        "trials",
        "status",
        "gate",
        "side",
        "created_by",
        "cancelled_by",
        "created",
        "started",
        "finished",
        "result_count",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        return (
            super()
            .get_queryset(request)
            .select_related("suite__feature", "config")
            .annotate(n_results=Count("results"))
        )

    @admin.display(description="results", ordering="n_results")
    def result_count(self, obj: Run) -> int:
        return getattr(obj, "n_results", 0)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class GateAdmin(ReadOnlyMixin, GateAdminBase):
    list_display = ["code", "feature", "rollout", "verdict", "trials", "created", "finished"]
    list_filter = ["verdict"]
    search_fields = ["feature__key"]
    readonly_fields = (
        "code",
        "feature",
        "rollout",
        "baseline",
        "candidate",
        "trials",
        "verdict",
        "report",
        "acknowledged_by",
        "acknowledged",
        "ack_note",
        "created_by",
        "created",
        "finished",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Gate]:
        return super().get_queryset(request).select_related("feature", "rollout")


def register(site: AdminSite) -> None:
    site.register(Suite, SuiteAdmin)
    site.register(Run, RunAdmin)
    site.register(Gate, GateAdmin)
