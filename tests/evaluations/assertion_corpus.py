# ruff: noqa: RUF001, E501 - curly quotes and long lines are what real answers have
"""Realistic model outputs for the assertion tests (issue 9): what support and extraction
features really get back from current models, in several languages and shapes."""

import json

SUPPORT_MARKDOWN = """## Your refund

Thanks for getting in touch, and I’m sorry the keyboard arrived with a sticky “Enter” key.

**What happens next**

1. I’ve started a refund of **€49.90** to the card ending in 4242.
2. You’ll get a confirmation email within the hour.
3. The money usually shows up in 3–5 working days.

> You don’t need to send the keyboard back — we’ll recycle it for you.

If anything’s unclear, just reply to this email. Have a lovely day!
"""

# The same answer, cut short by max_tokens mid-list.
SUPPORT_TRUNCATED = SUPPORT_MARKDOWN[:180]

INTENT = {
    "intent": "refund",
    "order_id": "A-1042",
    "items": [{"sku": "KB-87", "qty": 1, "reason": "defective"}],
    "urgent": False,
}
PLAIN_JSON = json.dumps(INTENT)
PRETTY_JSON = json.dumps(INTENT, indent=2, ensure_ascii=False)
# The regression is-json exists for: a candidate that starts fencing its JSON.
FENCED_JSON = "```json\n" + PRETTY_JSON + "\n```"
JSON_AFTER_PROSE = (
    "Here’s the classification you asked for:\n\n"
    + FENCED_JSON
    + "\n\nLet me know if you’d like me to flag it as urgent."
)
JSON_MISSING_INTENT = json.dumps({"order_id": "A-1042", "items": []})
JSON_WITH_NAN = '{"score": NaN}'

INTENT_SCHEMA = {
    "type": "object",
    "required": ["intent", "order_id"],
    "properties": {
        "intent": {"enum": ["refund", "exchange", "question"]},
        "order_id": {"type": "string", "pattern": "^A-[0-9]+$"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "qty"],
                "properties": {"qty": {"type": "integer", "minimum": 1}},
            },
        },
    },
}
INTENT_SCHEMA_YAML = """
type: object
required: [intent, order_id]
properties:
  intent: {enum: [refund, exchange, question]}
"""

GERMAN = (
    "Vielen Dank für Ihre Nachricht! Ihre Rückerstattung über 49,90 € wurde veranlasst. "
    "Die Gutschrift erscheint in drei bis fünf Werktagen auf Ihrem Konto. "
    "Unser Lager in der Hauptstraße 12 nimmt die Tastatur gern zurück."
)
JAPANESE = (
    "ご連絡ありがとうございます。ご注文（A-1042）の返金手続きを開始しました。"
    "3〜5営業日以内にカードへ返金されます。ご不便をおかけして申し訳ございません。"
)
ARABIC = (
    "شكرًا لتواصلك معنا. تم بدء استرداد مبلغ 49.90 يورو لطلبك رقم A-1042، "
    "وسيظهر المبلغ في حسابك خلال ثلاثة إلى خمسة أيام عمل."
)
EMOJI = "Great news! 🎉 Your order #A-1042 has shipped 📦 and should arrive by Thursday 🚚. Thanks for shopping with us 💙"

REFUSAL_CURLY = "I’m sorry, but I can’t help with that request. If you have questions about your own order, I’m happy to look into it."
REFUSAL_PLAIN = "I cannot assist with creating fake reviews."
# Apologies that are not refusals: the detector must leave these alone.
APOLOGY_NOT_REFUSAL = (
    "Sorry for the delay! I couldn’t find order A-1042 at first, but it shipped on Monday."
)


def call(name: str, arguments: object, call_id: str = "call_1") -> dict:
    """One OpenAI-shaped tool call; `arguments` as the provider sends it (a JSON string)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


TICKET_ARGUMENTS = {
    "customer": {"id": "C-77", "tier": "gold", "locale": "de-DE"},
    "priority": "high",
    "items": [{"sku": "KB-87", "qty": 1}],
    "note": "Kunde möchte Rückerstattung „sofort“",
}
CREATE_TICKET = call("create_ticket", TICKET_ARGUMENTS)
LOOKUP_ORDER = call("lookup_order", {"order_id": "A-1042"}, "call_0")
# Cut off by max_tokens in the middle of the arguments.
BROKEN_TICKET = call("create_ticket", '{"customer": {"id": "C-77", "tier": "go', "call_2")
