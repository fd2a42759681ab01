"""Self-hosted servers name models freely: only the weights revision pins what is served."""

import re

from registry.pinning.base import FloatingAliasError

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$", re.IGNORECASE)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$", re.IGNORECASE)
_HOW = (
    "record the commit hash of the weights (7-40 hex characters, e.g. the Hugging Face "
    "revision you downloaded) or their 'sha256:' digest (64 hex characters)"
)


def check_revision(model_id: str, revision: str) -> None:
    rev = revision.strip()
    if not rev:
        raise FloatingAliasError(
            f"'{model_id}' is served by a self-hosted server, where names are arbitrary: "
            f"record the weights revision that pins it: {_HOW}.",
            field="weights_revision",
        )
    if _COMMIT.match(rev) or _DIGEST.match(rev):
        return
    if rev.lower().startswith("sha256:"):
        problem = f"'{rev}' is not a whole sha256 digest"
    else:
        # main, master, v1.0, refs/tags/...: branches and tags move to new commits.
        problem = f"'{rev}' is a branch or tag name, which can move to other weights"
    raise FloatingAliasError(f"{problem}; {_HOW}.", field="weights_revision")
