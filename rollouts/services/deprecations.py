"""The deprecation calendar: model versions that retire within DEPRECATION_WARNING_DAYS (or
retired and still serve), the features still on them, and the successor to move to; and the
daily warning recorded in the audit trail per feature and version."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.models import AuditEvent, Feature, ModelVersion
from registry.services.audit import audit_record, chain_lock

RETIRING = "model_version.retiring"


@dataclass(frozen=True)
class Retirement:
    version: ModelVersion
    days_left: int  # negative once retired
    features: list[Feature]
    successor: ModelVersion | None

    @property
    def retired(self) -> bool:
        return self.days_left < 0

    @property
    def when(self) -> str:
        if self.days_left < 0:
            return f"retired {-self.days_left} days ago"
        if self.days_left == 0:
            return "retires today"
        return f"retires in {self.days_left} days"


def deprecation_calendar(*, today: date) -> list[Retirement]:
    """Soonest first. A retired version that no feature serves any more is done with: left out."""
    horizon = today + timedelta(days=settings.DEPRECATION_WARNING_DAYS)
    versions = list(
        ModelVersion.objects.filter(deprecates__isnull=False, deprecates__lte=horizon)
        .select_related("provider", "successor")
        .order_by("deprecates", "model_id")
    )
    on: dict[int, list[Feature]] = defaultdict(list)
    features = Feature.objects.filter(served_config__model_version__in=versions).select_related(
        "served_config"
    )
    for feature in features.order_by("key"):
        on[feature.served_config.model_version_id].append(feature)
    out = []
    for version in versions:
        if version.deprecates is None:  # never, by the filter; the check narrows the type
            continue
        days = (version.deprecates - today).days
        if days < 0 and not on[version.pk]:
            continue
        out.append(Retirement(version, days, on[version.pk], version.successor))
    return out


def _reason(entry: Retirement, feature: Feature) -> str:
    version = entry.version
    successor = f" Its successor is '{entry.successor}'." if entry.successor else ""
    if entry.retired:
        lead = f"'{version}' retired on {version.deprecates} ({-entry.days_left} days ago)"
    else:
        lead = f"'{version}' retires on {version.deprecates} ({entry.days_left} days left)"
    return f"{lead} and still serves '{feature.key}'.{successor} Start an upgrade campaign."


def deprecation_warnings_record() -> int:
    """One `model_version.retiring` event per (feature, version) per UTC day; a second run on
    the same day writes nothing. Returns how many events were written.

    The day is written in the event (`after.day`) and looked up there, rather than read from
    the events' timestamps: the check then holds whichever clock a run reads."""
    day = timezone.now().astimezone(UTC).date()
    written = 0
    for entry in deprecation_calendar(today=day):
        for feature in entry.features:
            with transaction.atomic():
                # The audit chain's lock serialises this check with any concurrent run's write,
                # so two beat deliveries on one day still leave one event.
                chain_lock()
                seen = AuditEvent.objects.filter(
                    feature_key=feature.key,
                    action=RETIRING,
                    object_id=str(entry.version.code),
                    after__day=day.isoformat(),
                ).exists()
                if seen:
                    continue
                audit_record(
                    actor=None,
                    action=RETIRING,
                    obj=entry.version,
                    before=None,
                    after={
                        "day": day.isoformat(),
                        "deprecates": entry.version.deprecates,
                        "days_left": entry.days_left,
                        "feature": feature.key,
                        "successor": str(entry.successor) if entry.successor else None,
                    },
                    reason=_reason(entry, feature),
                    feature_key=feature.key,
                )
                written += 1
    return written
