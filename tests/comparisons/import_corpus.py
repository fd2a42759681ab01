"""Realistic imported pairs: long Markdown, emoji, right-to-left text, combining marks."""

MARKDOWN_SECTION = (
    "## Returning an item\n\n"
    "1. Open **Orders** and pick the order.\n"
    "2. Choose *Return* and say why — “it arrived damaged” is enough.\n"
    "3. Print the label; drop the parcel at any pick-up point.\n\n"
    '```json\n{"status": "return_requested", "refund": "original method"}\n```\n\n'
    "> Refunds reach you within a few working days of the parcel\u2019s arrival.\n\n"
)


def long_markdown(target_bytes: int = 15 * 1024) -> str:
    parts = []
    while len("".join(parts).encode()) < target_bytes:
        parts.append(MARKDOWN_SECTION)
    return "".join(parts)


# Family: a ZWJ sequence; flag: regional indicators.
EMOJI = "Thanks for waiting! 🎉📦 Your parcel is on its way 🚚💨 — family: 👩‍👩‍👧‍👦, flag: 🇫🇷"
RTL = "مرحبا، طلبك في الطريق. שלום, ההזמנה שלך בדרך."
COMBINING = (
    "Cafe\u0301 re\u0301sume\u0301 — n\u0303 a\u0308 (decomposed), Ωmega, "
    "Zalgo: Z\u0351\u0300a\u0352"
)


def realistic_records() -> list[dict]:
    long_a = long_markdown()
    long_b = long_a.replace("a few working days", "five working days") + "\n\n**Anything else?**"
    return [
        {
            "request_id": "ext-1",
            "input": "How do I return a damaged item?",
            "baseline_output": long_a,
            "baseline_model": "gpt-4o-2024-05-13",
            "baseline_latency_ms": 812.5,
            "candidate_output": long_b,
            "candidate_model": "gpt-4o-2024-08-06",
            "candidate_latency_ms": 640,
            "metadata": {"source": "eval-export", "ticket": "A-17"},
        },
        {
            "request_id": "ext-2",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "Where is my parcel? " + EMOJI},
            ],
            "baseline_output": EMOJI,
            "baseline_model": "gpt-4o-2024-05-13",
            "candidate_output": RTL,
            "candidate_model": "gpt-4o-2024-08-06",
        },
        {
            "input": COMBINING,
            "baseline_output": COMBINING,
            "baseline_model": "gpt-4o-2024-05-13",
            "candidate_output": "I\u2019m sorry, but I can\u2019t help with that.",
            "candidate_model": "gpt-4o-2024-08-06",
        },
    ]
