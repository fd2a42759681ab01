"""The model catalog applied: prices, context windows and retirement dates from a file in the
format of LiteLLM's `model_prices_and_context_window.json` (read by registry/catalog_parsing.py),
written on registered model versions so nobody types them by hand.

1. `catalog_read(source)` fetches an https URL (after the egress policy) or reads a path;
   `catalog_parse(text)` (pure, registry/catalog_parsing.py) reads the file.
2. `catalog_apply(catalog=...)` matches each registered version to one entry (its exact model id
   first unless its provider's own route names it, then a name with a known route stripped;
   versions are never created), and writes the changed fields in one transaction, one audit
   event per version with exactly those fields.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from django.db import transaction

from registry import egress
from registry.catalog_parsing import (
    Catalog,
    CatalogError,
    Entry,
    Problem,
    catalog_parse,
    name_forms,
)
from registry.models import AuditEvent, ModelVersion
from registry.services.audit import audit_record, db_now

__all__ = [
    "Catalog",
    "CatalogError",
    "Entry",
    "Problem",
    "Summary",
    "VersionChange",
    "catalog_apply",
    "catalog_parse",
    "catalog_read",
    "match_entry",
    "name_forms",
]

# A catalog bigger than this is not LiteLLM's (about 1 MB in 2025); refusing it bounds memory.
MAX_CATALOG_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 30.0
# The provider hosts each LiteLLM route belongs to (used to prefer `azure/x` for a version on
# an Azure endpoint when several routes carry `x`).
_ROUTE_HOSTS = {
    "azure": ("azure",),
    "bedrock": ("amazonaws", "bedrock"),
    "vertex_ai": ("googleapis.com/v1/projects", "aiplatform", "vertex"),
    "gemini": ("generativelanguage",),
    "openrouter": ("openrouter",),
    "anthropic": ("anthropic.com",),
    "openai": ("openai.com",),
    "mistral": ("mistral.ai",),
}


def match_entry(version: ModelVersion, catalog: Catalog) -> Entry | None:
    """The entry for one registered version, or None (versions are never created).

    1. An entry under the route of the version's own provider host: `azure/x` for an Azure
       deployment, `gemini/x` for Google AI Studio, whose prices differ from the vendor's.
    2. The version's exact model id.
    3. Another name with a known route stripped (`vertex_ai/x`, `openrouter/openai/x`, Bedrock's
       `anthropic.x-v1:0`), the least stripped first, then by name so a rerun picks the same.
    """
    host = version.provider.base_url.lower()
    best: tuple[int, int, str] | None = None
    if version.model_id in catalog.entries:
        best = (1, 0, version.model_id)
    for key in catalog.entries:
        for depth, (route, bare) in enumerate(name_forms(key)):
            if bare != version.model_id:
                continue
            hinted = any(h in host for h in _ROUTE_HOSTS.get(route, ()))
            rank = (0 if hinted else 2, depth, key)
            best = rank if best is None or rank < best else best
    return catalog.entries[best[2]] if best else None


# --- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionChange:
    version: str
    key: str
    before: dict[str, Any]
    after: dict[str, Any]
    note: str = ""


@dataclass
class Summary:
    matched: int = 0
    unchanged: int = 0
    unmatched: int = 0
    changes: list[VersionChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> int:
        return len(self.changes)

    def __str__(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        return (
            f"{self.matched} registered versions matched: {verb} {self.changed}, "
            f"{self.unchanged} unchanged; {self.unmatched} catalog entries match no version; "
            f"{len(self.problems)} problems."
        )


def _deprecation_typed_by_hand(version: ModelVersion) -> bool:
    """Whether the version's current deprecation date came from a person (the admin or a
    service) rather than an earlier catalog import: the newest event that set it says."""
    events = AuditEvent.objects.filter(
        object_type="rollouts.modelversion", object_id=str(version.code)
    ).order_by("-id")
    for action, before, after in events.values_list("action", "before", "after").iterator():
        if not isinstance(after, dict) or "deprecates" not in after:
            continue
        if before is None or before.get("deprecates") != after["deprecates"]:
            return action != "model_version.catalog"
    return True  # no event set it: typed in before the audit trail, or by hand in the database


def _diff(version: ModelVersion, entry: Entry, problems: list[Problem]) -> dict[str, Any]:
    changes = {}
    for name, value in entry.values.items():
        if name == "deprecates" and version.released and value < version.released:
            problems.append(
                Problem(
                    entry.key,
                    "deprecation_date",
                    f"{value} is before {version}'s release date {version.released}; "
                    "the date was not applied",
                )
            )
            continue
        if getattr(version, name) != value:
            changes[name] = value
    return changes


def catalog_apply(
    *, catalog: Catalog, actor: Any, source: str = "", dry_run: bool = False
) -> Summary:
    """Apply the catalog to every registered version it names, in one transaction."""
    summary = Summary(problems=list(catalog.problems), dry_run=dry_run)
    used: set[str] = set()
    with transaction.atomic():
        now = db_now()
        versions = ModelVersion.objects.select_related("provider").select_for_update(of=("self",))
        for version in versions.order_by("id"):
            entry = match_entry(version, catalog)
            if entry is None:
                continue
            used.add(entry.key)
            summary.matched += 1
            changes = _diff(version, entry, summary.problems)
            if not changes:
                summary.unchanged += 1
                if not dry_run:
                    ModelVersion.objects.filter(pk=version.pk).update(catalog_synced=now)
                continue
            note = ""
            if "deprecates" in changes and version.deprecates is not None:
                who = "typed by hand" if _deprecation_typed_by_hand(version) else "from the catalog"
                note = (
                    f"The deprecation date {version.deprecates} ({who}) contradicts the "
                    f"catalog's {changes['deprecates']}; it now follows the catalog."
                )
            change = VersionChange(
                version=str(version),
                key=entry.key,
                before={name: getattr(version, name) for name in changes},
                after=changes,
                note=note,
            )
            summary.changes.append(change)
            if dry_run:
                continue
            ModelVersion.objects.filter(pk=version.pk).update(**changes, catalog_synced=now)
            reason = f"Model catalog entry '{entry.key}'" + (f" from {source}" if source else "")
            audit_record(
                actor=actor,
                action="model_version.catalog",
                obj=version,
                before=change.before,
                after=change.after,
                reason=f"{reason}. {note}".strip() if note else f"{reason}.",
            )
    summary.unmatched = len(catalog.entries.keys() - used)
    return summary


# --- reading the source -----------------------------------------------------------------------


def catalog_read(source: str) -> bytes:
    """The catalog's bytes from an https URL or a file path; CatalogError says what failed."""
    if source.startswith("http://"):
        raise CatalogError("Fetch the catalog over https://, never plain http.")
    if source.startswith("https://"):
        return _fetch(source)
    path = Path(source)
    try:
        if path.stat().st_size > MAX_CATALOG_BYTES:
            raise CatalogError(f"{source} is larger than {MAX_CATALOG_BYTES} bytes.")
        return path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"Cannot read the catalog file {source}: {exc.strerror}.") from None


def _fetch(url: str) -> bytes:
    # The providers' egress policy: a catalog URL must not reach the metadata service or an
    # internal host either. Redirects are not followed, so the checked host is the one read.
    problem = egress.url_problem(url)
    if problem:
        raise CatalogError(f"The catalog URL is refused by the egress policy: {problem}")
    body = bytearray()
    try:
        with (
            httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CatalogError(
                    f"The catalog URL answered HTTP {response.status_code}; give the raw "
                    "file's URL (no redirect, no login)."
                )
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CATALOG_BYTES:
                    raise CatalogError(f"The catalog is larger than {MAX_CATALOG_BYTES} bytes.")
    except httpx.HTTPError as exc:
        raise CatalogError(f"Could not fetch the catalog from {url}: {exc}.") from None
    return bytes(body)
