# ruff: noqa: RUF001 - the demo's texts carry the curly quotes real customers type
"""The demo's eval suites, one per feature, written as a team would write its first suite.

Against the simulator (traffic/simulator/README.md) they give the three gate verdicts:
- intent-json → `sim-chat-2025-10-01` is **blocked**: the candidate fences its JSON and renames
  `intent` to `label`, so the critical format cases fail although the accuracy cases (the intent
  word is still there) pass, all but #8, which the candidate refuses outright (its 5% refusals).
- support-reply → `sim-chat-2025-06-01` **passes**: same contract, different wording.
- ticket-summary → `sim-chat-2025-10-01` **needs acknowledgement**: its casual `*` bullets and
  chatty preamble drop the non-critical tone cases past the suite's threshold (the baseline
  passes them all: chit-chat words are matched as whole words, "hey" is not in "They").
"""

from typing import Any

INTENT_SCHEMA = {
    "type": "object",
    "required": ["intent", "confidence"],
    "properties": {
        "intent": {"enum": ["billing", "bug", "account", "other"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "additionalProperties": False,
}

_INTENT_MESSAGES = [
    ("billing", "I was charged twice for my March invoice — can you refund the second charge?"),
    ("billing", "Why does my bill show a €12 charge I don’t recognise?"),
    ("bug", "The export button crashes the app every time I click it, error 500."),
    ("bug", "Since the update the dashboard is broken: charts never load."),
    ("account", "I forgot my password and the reset e-mail never arrives."),
    ("account", "How do I change the login e-mail of my account?"),
    ("other", "Do you have an office in Lisbon?"),
    ("billing", "Ich möchte eine Rückerstattung für die doppelte Abbuchung (refund please)."),
]

_SUPPORT_QUESTIONS = [
    "My order #4411 arrived damaged, what should I do?",
    "Can I change the delivery address after I’ve placed the order?",
    "The app says “payment failed” but my bank shows the money as taken.",
    "How long does a refund take to reach my card?",
    "I can’t log in since yesterday; the page just reloads.",
    "Is there a way to download all my invoices at once?",
]

_TICKETS = [
    "Customer reports that the mobile app crashes on start since version 4.2. They reinstalled "
    "it twice. The crash happens on Android 14 only. They need the app for work tomorrow.",
    "The customer was billed for the annual plan although they chose monthly. They ask for the "
    "difference back and want to keep the monthly plan. Invoice INV-2291 is attached.",
    "A user cannot reset their password: the reset link expires immediately. They tried three "
    "browsers. Support already cleared the cache on our side. Please check the token lifetime.",
    "Enterprise customer asks whether data is stored in the EU. Their legal team needs a written "
    "answer by Friday. They also ask for the list of sub-processors.",
]


def _intent_cases() -> list[dict[str, Any]]:
    cases = []
    for number, (intent, message) in enumerate(_INTENT_MESSAGES, start=1):
        cases.append(
            {
                "name": f"#{number} answers schema-valid JSON ({intent})",
                "variables": {"message": message},
                "dimension": "format",
                "critical": True,
                "assertions": [{"type": "is-json", "value": INTENT_SCHEMA}],
            }
        )
        cases.append(
            {
                "name": f"#{number} names the intent {intent}",
                "variables": {"message": message},
                "dimension": "accuracy",
                "assertions": [{"type": "icontains", "value": f'"{intent}"'}],
            }
        )
    return cases


def _support_cases() -> list[dict[str, Any]]:
    cases = []
    for number, question in enumerate(_SUPPORT_QUESTIONS, start=1):
        variables = {"question": question, "company": "Acme Outfitters"}
        cases.append(
            {
                "name": f"#{number} answers rather than refuses",
                "variables": variables,
                "dimension": "safety",
                "critical": True,
                "assertions": [{"type": "not-is-refusal"}],
            }
        )
        cases.append(
            {
                "name": f"#{number} plain prose, no code fences, under 1,500 characters",
                "variables": variables,
                "dimension": "format",
                "assertions": [
                    {"type": "not-contains", "value": "```"},
                    {"type": "max-length", "value": 1500},
                ],
            }
        )
    return cases


def _summary_cases() -> list[dict[str, Any]]:
    cases = []
    for number, ticket in enumerate(_TICKETS, start=1):
        cases.append(
            {
                "name": f"#{number} summarises in bullets",
                "variables": {"ticket": ticket},
                "dimension": "format",
                "critical": True,
                "assertions": [{"type": "regex", "value": r"(?m)^\s*[-*] \S"}],
            }
        )
        cases.append(
            {
                "name": f"#{number} keeps the house style: '-' bullets, no chit-chat",
                "variables": {"ticket": ticket},
                "dimension": "tone",
                "assertions": [
                    {"type": "not-regex", "value": r"(?m)^\s*\* "},
                    # Whole words: a plain substring test finds "hey" in every "They".
                    {"type": "not-regex", "value": r"(?i)\b(hey|cheers|happy to help)\b"},
                ],
            }
        )
    return cases


DEMO_SUITES: dict[str, dict[str, Any]] = {
    "intent-json": {
        "name": "Intent routing",
        "prompt": "{{message}}",
        "threshold_pp": 5.0,
        "cases": _intent_cases(),
    },
    "support-reply": {
        "name": "Support replies",
        "prompt": "{{question}}",
        "threshold_pp": 10.0,
        "cases": _support_cases(),
    },
    "ticket-summary": {
        "name": "Ticket summaries",
        "prompt": "{{ticket}}",
        "threshold_pp": 10.0,
        "cases": _summary_cases(),
    },
}
