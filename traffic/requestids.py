"""The request-id rule shared by the gateway (`X-Request-Id`) and ingest (`request_id`), and the
digest that tells a retried call from a reused id.

Request ids are log keys: shown on pages, exported to CSV, sent back in headers, used as the
idempotency key of a call. So they stay short and printable: 1-100 characters of letters, digits
and `. _ : -` (UUIDs, ULIDs, `req-123`, `trace:span` all fit).
"""

import hashlib
import json
import re

MAX_LENGTH = 100  # RequestLog.request_id holds 100
ALPHABET = "A-Za-z0-9._:-"
# For JSON Schema (ECMA-262) and Python alike: `(?!\n)` because Python's `$` (which jsonschema
# uses) also matches before a final newline.
PATTERN = f"^[{ALPHABET}]{{1,{MAX_LENGTH}}}(?!\\n)$"
_VALID = re.compile(PATTERN)
RULE = f"1-{MAX_LENGTH} characters of letters, digits and . _ : -"


def request_id_valid(value: str) -> bool:
    # fullmatch: `$` alone would accept one trailing newline.
    return _VALID.fullmatch(value) is not None


def body_digest(body: object) -> str:
    """SHA-256 of the canonical JSON of a request body (keys sorted, no spaces): the same call
    sent twice has the same digest whatever its key order or whitespace."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
