# ruff: noqa: RUF001, RUF002 - curly quotes are what these texts are about
"""Refusal detection: does this answer decline to do what was asked?

A flag asks a human to look; it decides nothing. So the list below aims at the phrasings
current models really use to decline, in English, and stays away from the everyday uses of the
same words ("sorry for the delay", "I can't wait to see it", "you can't help but smile").

Apostrophes are normalised first: models write ``’`` (U+2019) as often as ``'``, and ``‘``
(U+2018), ``ʼ`` (U+02BC), ``′`` (U+2032) and the backtick turn up too. So
``I’m sorry, but I can’t help with that.`` is the same refusal as the straight-quoted one.

What counts as a refusal (case-insensitive, anywhere in the answer):

1. An apology or regret followed, within the same sentence, by an inability to act:
   "I'm sorry, but I can't help with that", "I'm afraid I can't do that",
   "Sorry, I cannot assist with this request", "I apologize, but I'm unable to provide ...",
   "Unfortunately, I can't share ...". The inability must name an action
   (help, assist, comply, provide, do that/this/it, share, create, write, generate, give,
   answer, support, fulfil/fulfill, engage, continue, discuss, offer, complete, process,
   produce, access) so that
   "I'm sorry, I can't find the order number you mentioned" is not one.
2. A plain statement of inability to help, without an apology:
   "I can't help with that", "I cannot assist with this", "I'm unable to comply",
   "I am not able to provide ...", "I won't be able to help with ...", "I won't help with ...".
   "I can't help but ..." and "I can't help thinking/feeling/wondering/noticing" are excluded.
3. An explicit decline: "I must decline", "I have to decline", "I'll have to decline",
   "I need to decline", "I'm not comfortable (helping|providing|writing|assisting|sharing)".
4. Policy wording: "against my guidelines", "violates (my|our|the) (usage )?polic(y|ies)",
   "not something I can help with", "not able to help with (that|this)".
5. "As an AI language model" (the classic hedge that precedes a refusal).
"""

import re

# Every apostrophe look-alike models emit, mapped to the ASCII one before matching.
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "`": "'"})

_CANT = r"(?:can(?:not|'t| not)|could(?:n't| not)|won't(?: be able to)?|will not(?: be able to)?|am unable to|'m unable to|am not able to|'m not able to|unable to|not able to)"  # noqa: E501
_ACTION = (
    r"(?:help|assist|comply|provide|do (?:that|this|it)|share|create|write|generate|give|answer"
    r"|support|fulfil|fulfill|engage|continue|discuss|offer|complete|process|produce|access)"
)
_NOT_A_REFUSAL_AFTER_HELP = r"(?!\s+(?:but|thinking|feeling|wondering|noticing|myself))"

REFUSAL = re.compile(
    "|".join(
        (
            # 1. apology or regret, then inability to act, within one sentence
            r"\b(?:I'm sorry|I am sorry|sorry|I'm afraid|I am afraid|I apologi[sz]e"
            r"|unfortunately|regrettably)\b[^.!?\n]{0,80}?\bI\s*"
            + _CANT
            + r"\s+"
            + _ACTION
            + r"\b"
            + _NOT_A_REFUSAL_AFTER_HELP,
            # 2. a plain statement of inability to help
            r"\bI\s*" + _CANT + r"\s+(?:help|assist|comply)\b" + _NOT_A_REFUSAL_AFTER_HELP,
            r"\bI\s*" + _CANT + r"\s+(?:provide|do|fulfil|fulfill)\s+(?:that|this|it)\b",
            r"\bI\s+won't\s+(?:help|assist)\b" + _NOT_A_REFUSAL_AFTER_HELP,
            # 3. an explicit decline
            r"\bI(?:\s+must|\s+have\s+to|'ll\s+have\s+to|\s+need\s+to|\s+will\s+have\s+to)"
            r"\s+(?:respectfully\s+)?decline\b",
            r"\bI(?:'m| am) not comfortable (?:helping|providing|writing|assisting|sharing)\b",
            # 4. policy wording
            r"\bagainst my (?:guidelines|programming|principles)\b",
            r"\bviolates? (?:my|our|the|openai's|anthropic's) (?:usage |content )?polic(?:y|ies)\b",
            r"\bnot something I (?:can|am able to|'m able to) (?:help|assist) with\b",
            # 5. the classic hedge
            r"\bas an AI language model\b",
        )
    ),
    re.IGNORECASE,
)

# Every pattern above contains one of these: a substring test on the lowered text is far cheaper
# than the regex, and most answers contain none of them.
_HINTS = (
    "can't",
    "cannot",
    "can not",
    "couldn't",
    "could not",
    "won't",
    "will not",
    "unable",
    "not able",
    "decline",
    "not comfortable",
    "against my",
    "not something",
    "polic",
    "as an ai",
)


def normalise_apostrophes(text: str) -> str:
    return text.translate(_APOSTROPHES)


def is_refusal(text: str) -> bool:
    """True when the answer declines (see the module docstring for the list)."""
    normal = normalise_apostrophes(text)
    lowered = normal.lower()
    if not any(hint in lowered for hint in _HINTS):
        return False
    return bool(REFUSAL.search(normal))
