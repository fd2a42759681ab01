"""The matrix's vocabulary: actors, outcomes, rows and the usual outcome profiles."""

from collections.abc import Mapping
from dataclasses import dataclass, field

ANON, VIEWER, REVIEWER, RELEASE, ADMIN = "anonymous", "viewer", "reviewer", "release", "admin"
TOKEN, OTHER_TOKEN, REVOKED_TOKEN = "token", "other_token", "revoked_token"
SIGNED_IN = (VIEWER, REVIEWER, RELEASE, ADMIN)
PEOPLE = (ANON, *SIGNED_IN)
TOKENS = (TOKEN, OTHER_TOKEN, REVOKED_TOKEN)
ACTORS = (*PEOPLE, *TOKENS)

OK, LOGIN = "ok", "login"
UNAUTH, DENIED, MISSING, NO_METHOD = "401", "403", "404", "405"
CONFLICT, INVALID = "409", "422"  # refused for what the object is, not for who asks

EVERYONE = SIGNED_IN  # every signed-in person reads
RELEASE_MANAGERS = (RELEASE, ADMIN)
REVIEWERS = (REVIEWER, ADMIN)
PAIR_READERS = (REVIEWER, RELEASE, ADMIN)

ADMIN_PREFIX = "admin/"


@dataclass(frozen=True)
class Row:
    route: str  # the pattern as django.urls.get_resolver() spells it ("" + "rollouts/<uuid:code>/")
    method: str
    url: str  # with {placeholders} from World.fmt
    expect: Mapping[str, str]
    data: Mapping[str, str] | None = None  # form fields ({placeholders} filled)
    json: object = None  # a JSON body instead
    settings: Mapping[str, object] = field(default_factory=dict)
    # Tables a GET may write, each a documented exception (comparisons/views.py review_queue).
    get_writes: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.method} {self.url}"


def page(*allowed: str) -> dict[str, str]:
    """A signed-in page: `allowed` may, other people get 403, anonymous and tokens sign in."""
    cells = {a: OK if a in allowed else DENIED for a in SIGNED_IN}
    return {ANON: LOGIN, **cells, **dict.fromkeys(TOKENS, LOGIN)}


def api(*, people: str | Mapping[str, str] = OK, token: str = OK, other: str) -> dict[str, str]:
    """An API endpoint behind api_auth."""
    persons = people if isinstance(people, Mapping) else dict.fromkeys(SIGNED_IN, people)
    cells = {ANON: UNAUTH, **persons, TOKEN: token, OTHER_TOKEN: other, REVOKED_TOKEN: UNAUTH}
    return cells


PUBLIC = dict.fromkeys(ACTORS, OK)
ALL_NO_METHOD = dict.fromkeys(ACTORS, NO_METHOD)
READ = page(*EVERYONE)
WRITE = page(*RELEASE_MANAGERS)


def admin_only(admin: str) -> dict[str, str]:
    """An /admin/ page: every actor but the admin is sent to the admin's sign-in page."""
    return {**dict.fromkeys(ACTORS, LOGIN), ADMIN: admin}
