# ruff: noqa: RUF001 - look-alike characters are what this corpus is for
"""Text that must come back code point for code point: stored as sent, shown HTML-escaped with
the same code points. No digits runs, addresses or phone numbers, so redaction leaves it alone."""

SAMPLES = {
    "emoji": "Thanks! 😀🎉 🚚 is on its way",
    "ZWJ sequences": "👩‍💻 and 👨‍👩‍👧‍👦 and 🏳️‍🌈",
    "skin tones and flags": "👍🏽 👋🏿 🇫🇷 🇯🇵",
    "RTL Arabic": "مرحبا، أين طلبي؟",
    "RTL Hebrew with marks": "שלום \u200fעולם\u200e end",
    "bidi overrides": "abc \u202edcba\u202c \u2066isolate\u2069",
    "combining marks": "e\u0301 vs \u00e9, a\u030a, Z\u0351\u0308\u0347algo",
    "decomposed Hangul": "\u1100\u1161\u11a8 vs \uac01",
    "CJK and fullwidth": "包裹在哪里？ ＡＢＣ　です",
    "zero width": "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "line and paragraph separators": "one\u2028two\u2029three",
    "astral plane": "𝕳𝖊𝖑𝖑𝖔 𓀀 𝄞",
    "HTML-looking": "<b>bold</b> & \"quotes\" 'single' </textarea>",
    "variation selectors": "\u2764\ufe0f vs \u2764\ufe0e",
    "controls": "tab\there\rcarriage\x7fdel\x1bescape",
}
