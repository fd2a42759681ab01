# ruff: noqa: RUF001 - curly quotes are what these texts are about
"""A corpus of realistic shadow pairs for the flag rules (issue 8).

BREAKS: pairs a reviewer must see, each with the flags it must raise (at least).
REWRITES: two versions of the same answer, as two releases of one model family write them
(reworded, Markdown on both sides, curly quotes, accented letters, lists kept as lists): no
structural change, so at most a quarter of them may be flagged.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    baseline: str
    candidate: str
    expect: tuple[str, ...] = ()  # flags that must be among the pair's flags
    options: dict[str, Any] = field(default_factory=dict)  # extra compare() arguments


def _call(name: str, arguments: str) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


LONG_EN = (
    "Your parcel left our warehouse in Leeds on Monday morning and is now with the courier. "
    "Deliveries in your area usually take two to three working days, so it should reach you "
    "by Thursday. You can follow it with the tracking link in your confirmation email; if it "
    "has not moved for 48 hours, reply to this message and we will open an enquiry."
)
LONG_ES = (
    "Tu paquete salió de nuestro almacén de Leeds el lunes por la mañana y ya está con el "
    "mensajero. Las entregas en tu zona suelen tardar de dos a tres días laborables, así que "
    "debería llegarte el jueves. Puedes seguirlo con el enlace de seguimiento del correo de "
    "confirmación; si no se mueve en 48 horas, responde a este mensaje y abriremos una consulta."
)
STEPS_LIST = (
    "To reset your password:\n\n"
    "1. Open **Settings** and choose *Account*.\n"
    "2. Click “Reset password” and enter your email address.\n"
    "3. Follow the link we send you within 15 minutes.\n"
    "4. Pick a new password of at least 12 characters."
)
STEPS_PROSE = (
    "To reset your password, open Settings and choose Account, then click “Reset password” "
    "and enter your email address. Follow the link we send you within 15 minutes and pick a "
    "new password of at least 12 characters."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {"enum": ["billing", "shipping", "account", "other"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["intent", "confidence"],
    "additionalProperties": False,
}

BREAKS: list[Case] = [
    Case(
        "json becomes fenced",
        '{"intent": "billing", "confidence": 0.92}',
        '```json\n{"intent": "billing", "confidence": 0.92}\n```',
        ("json_broken:candidate",),
    ),
    Case(
        "json becomes prose",
        '{"intent": "shipping", "confidence": 0.81}',
        "The customer is asking about shipping (confidence 0.81).",
        ("json_broken:candidate",),
    ),
    Case(
        "json truncated mid-object",
        '{"summary": "Refund issued", "items": [1, 2, 3]}',
        '{"summary": "Refund issued", "items": [1, 2',
        ("json_broken:candidate",),
    ),
    Case(
        "json key renamed",
        '{"intent": "billing", "confidence": 0.9}',
        '{"label": "billing", "confidence": 0.9}',
        ("json_structure_changed",),
    ),
    Case(
        "json nested key dropped",
        '{"customer": {"name": "Zoë", "tier": "gold"}, "refund": true}',
        '{"customer": {"name": "Zoë"}, "refund": true}',
        ("json_structure_changed",),
    ),
    Case(
        "json number becomes string",
        '{"order_id": 58213, "total": 42.5}',
        '{"order_id": "58213", "total": 42.5}',
        ("json_structure_changed",),
    ),
    Case(
        "json schema violated by candidate (enum)",
        '{"intent": "billing", "confidence": 0.9}',
        '{"intent": "invoice", "confidence": 0.9}',
        ("schema_violation:candidate",),
        {"baseline_schema": SCHEMA, "candidate_schema": SCHEMA},
    ),
    Case(
        "json schema violated by candidate (range)",
        '{"intent": "account", "confidence": 0.7}',
        '{"intent": "account", "confidence": 7}',
        ("schema_violation:candidate",),
        {"baseline_schema": SCHEMA, "candidate_schema": SCHEMA},
    ),
    Case(
        "json schema violated by baseline",
        '{"intent": "account"}',
        '{"intent": "account", "confidence": 0.6}',
        ("schema_violation:baseline",),
        {"baseline_schema": SCHEMA, "candidate_schema": SCHEMA},
    ),
    Case(
        "config asks json, candidate answers prose",
        "Shipping.",
        "This is about shipping.",
        ("json_broken:candidate",),
        {"candidate_json_expected": True},
    ),
    Case(
        "tool renamed",
        "",
        "",
        ("tool_calls_changed",),
        {
            "baseline_tool_calls": [_call("lookup_order", '{"order_id": "58213"}')],
            "candidate_tool_calls": [_call("get_order", '{"order_id": "58213"}')],
        },
    ),
    Case(
        "tool arguments changed",
        "",
        "",
        ("tool_calls_changed",),
        {
            "baseline_tool_calls": [_call("refund", '{"order_id": "58213", "amount": 42.5}')],
            "candidate_tool_calls": [_call("refund", '{"order_id": "58213", "amount": 425}')],
        },
    ),
    Case(
        "tool call dropped for a text answer",
        "",
        "I have looked up your order: it ships on Monday.",
        ("tool_calls_changed",),
        {
            "baseline_tool_calls": [_call("lookup_order", '{"order_id": "58213"}')],
            "candidate_tool_calls": [],
        },
    ),
    Case(
        "refusal curly, candidate",
        "Sure! To export your invoices, open Billing, pick the months and click Export as CSV.",
        "I’m sorry, but I can’t help with that.",
        ("refusal:candidate",),
    ),
    Case(
        "refusal straight, candidate",
        "Here is a short poem about autumn leaves drifting over the old stone bridge in town.",
        "I'm sorry, but I can't help with that request.",
        ("refusal:candidate",),
    ),
    Case(
        "refusal curly, baseline",
        "I’m afraid I can’t assist with that.",
        "Of course. The quickest way is to open the app, tap Orders and choose Return item.",
        ("refusal:baseline",),
    ),
    Case(
        "refusal straight, baseline",
        "I cannot help with that.",
        "Here’s how: go to Settings → Privacy, then choose Download my data and confirm.",
        ("refusal:baseline",),
    ),
    Case(
        "refusal as unable to provide",
        "Your account manager is Inès Martín; her direct line is on the Contacts page.",
        "I apologise, but I’m unable to provide details about other people’s accounts.",
        ("refusal:candidate",),
    ),
    Case(
        "candidate error",
        "Your refund of €42.50 was issued today.",
        "",
        ("error:candidate",),
        {"candidate_error": True},
    ),
    Case(
        "baseline error",
        "",
        "Your refund of €42.50 was issued today.",
        ("error:baseline",),
        {"baseline_error": True},
    ),
    Case(
        "candidate truncated",
        LONG_EN,
        LONG_EN[:200],
        ("truncated:candidate",),
        {"baseline_finish_reason": "stop", "candidate_finish_reason": "length"},
    ),
    Case(
        "baseline truncated",
        LONG_EN[:300],
        LONG_EN,
        ("truncated:baseline",),
        {"baseline_finish_reason": "length", "candidate_finish_reason": "stop"},
    ),
    Case(
        "markdown to plain",
        "## Refund options\n\n**Card payments** are refunded in 3–5 days. **PayPal** refunds "
        "arrive the same day. See [our policy](https://example.com/refunds) for details.",
        "Refund options: card payments are refunded in 3–5 days and PayPal refunds arrive the "
        "same day. Our refund policy page has the details.",
        ("format_changed",),
    ),
    Case(
        "code fence dropped",
        "Run this in your terminal:\n\n```bash\npip install --upgrade acme-cli\nacme login\n```\n\n"
        "Then try the upload again.",
        "Run pip install --upgrade acme-cli and then acme login in your terminal, then try the "
        "upload again.",
        ("format_changed",),
    ),
    Case(
        "code fence appears",
        "Set the timeout with ACME_TIMEOUT=30 in your environment before starting the worker.",
        "Set the timeout in your environment before starting the worker:\n\n```\n"
        "export ACME_TIMEOUT=30\n```",
        ("format_changed",),
    ),
    Case("list to prose", STEPS_LIST, STEPS_PROSE, ("format_changed",)),
    Case("prose to list", STEPS_PROSE, STEPS_LIST, ("format_changed",)),
    Case("english to spanish", LONG_EN, LONG_ES, ("language_changed",)),
    Case(
        "much shorter",
        LONG_EN,
        "It ships Thursday.",
        ("length_ratio",),
    ),
    Case(
        "much longer",
        "Your parcel should arrive by Thursday; use the tracking link in your email.",
        LONG_EN + " " + LONG_EN.replace("Leeds", "York"),
        ("length_ratio",),
    ),
    Case("label changed", "billing", "shipping", ("low_similarity",)),
]

# Pairs that look alarming to a naive detector and must raise nothing: sorry-for-the-delay,
# "can't wait", a year followed by a full stop at a line start, a shared refusal.
HARMLESS: list[Case] = [
    Case(
        "sorry for the delay",
        "Sorry for the delay! Your replacement card was posted today and should arrive by Friday.",
        "Sorry for the delay — your replacement card went out in today’s post and should be "
        "with you by Friday.",
    ),
    Case(
        "can't wait",
        "We can’t wait to see you at the launch on 12 March; doors open at 18:00.",
        "We can't wait to welcome you at the launch on 12 March. Doors open at 6 pm.",
    ),
    Case(
        "can't help but",
        "I can’t help but notice your plan renews tomorrow: switch to yearly billing to save 20%.",
        "I can't help but point out that your plan renews tomorrow; yearly billing saves 20%.",
    ),
    Case(
        "sorry I can't find",
        "I’m sorry, I can’t find an order with that number. Could you check the confirmation "
        "email and send me the 8-digit code?",
        "Sorry, I can't find an order under that number. Could you send the 8-digit code from "
        "your confirmation email?",
    ),
    Case(
        "both refuse",
        "I’m sorry, but I can’t help with that.",
        "I'm sorry, but I cannot assist with that request.",
    ),
    Case(
        "year at line start",
        "Our history in brief:\n2019. Founded in Lyon.\nSince then we have grown to 40 people.",
        "Our history, briefly:\n2019. Founded in Lyon.\nWe have grown to 40 people since.",
    ),
]


def _rewrite(name: str, baseline: str, candidate: str) -> Case:
    return Case(name, baseline, candidate)


REWRITES: list[Case] = [
    _rewrite(
        "refund timing",
        "Refunds go back to the card you paid with. Once we receive the returned item, it "
        "takes us up to two working days to process it, and your bank may need another three "
        "to five days to show it on your statement. You’ll get an email from us as soon as "
        "the refund is issued.",
        "We refund to the original payment card. After the return reaches our warehouse we "
        "process it within two working days; your bank can then take three to five more days "
        "before it appears on your statement. We’ll email you the moment the refund is issued.",
    ),
    _rewrite(
        "password reset list",
        STEPS_LIST,
        "Here’s how to reset it:\n\n"
        "1. Go to **Settings** → *Account*.\n"
        "2. Select “Reset password” and type your email.\n"
        "3. Open the link we email you (it expires after 15 minutes).\n"
        "4. Choose a new password — 12 characters or more.",
    ),
    _rewrite(
        "shipping delay apology",
        "Sorry for the delay with your order. A storm closed the depot in Rennes for two days, "
        "so many parcels are running late. Yours is moving again and the new estimated "
        "delivery date is Wednesday. If it hasn’t arrived by Friday, let us know and we’ll "
        "send a replacement at no cost.",
        "Apologies for the wait. A storm shut our Rennes depot for two days and a lot of "
        "parcels are behind schedule. Yours is back on the move, with delivery now expected on "
        "Wednesday. Should it still be missing on Friday, tell us and we’ll ship a replacement "
        "free of charge.",
    ),
    _rewrite(
        "markdown plan comparison",
        "## Which plan fits?\n\n- **Starter**: one user, 10 GB, email support.\n- **Team**: up "
        "to 10 users, 1 TB, chat support.\n- **Business**: unlimited users, 5 TB, a named "
        "account manager.\n\nMost teams of your size pick **Team**.",
        "## Choosing a plan\n\n- **Starter** — a single user, 10 GB of storage and support by "
        "email.\n- **Team** — up to ten users, 1 TB and chat support.\n- **Business** — "
        "unlimited users, 5 TB and your own account manager.\n\nFor a team like yours, "
        "**Team** is the usual choice.",
    ),
    _rewrite(
        "café opening hours",
        "The Café Élise on Rue Sainte-Catherine is open from 8:00 to 18:00 on weekdays and "
        "from 9:00 to 17:00 on Saturdays. It’s closed on Sundays and public holidays. You "
        "don’t need to book for groups under six; for larger groups, call ahead.",
        "Café Élise (Rue Sainte-Catherine) opens 8:00–18:00 Monday to Friday and 9:00–17:00 "
        "on Saturday, and is closed on Sundays and bank holidays. Groups of fewer than six "
        "can just walk in; bigger groups should phone ahead.",
    ),
    _rewrite(
        "python list sort",
        "Use `sorted()` when you want a new list and keep the original, or `list.sort()` to "
        "sort in place. Both accept a `key` function, e.g. `sorted(users, key=lambda u: "
        "u.age)`, and `reverse=True` for descending order. Sorting is stable, so equal "
        "items keep their relative order.",
        "`sorted()` returns a new sorted list and leaves the original alone, while "
        "`list.sort()` sorts the list in place. Each takes a `key` function — for instance "
        "`sorted(users, key=lambda u: u.age)` — and `reverse=True` sorts descending. The "
        "sort is stable: items that compare equal stay in their original order.",
    ),
    _rewrite(
        "code sample both fenced",
        "You can read a CSV file with the standard library:\n\n```python\nimport csv\n\nwith "
        "open('orders.csv', newline='') as f:\n    for row in csv.DictReader(f):\n        "
        "print(row['id'])\n```\n\nEach row is a dict keyed by the header line.",
        "The standard library’s `csv` module is enough:\n\n```python\nimport csv\n\nwith "
        'open("orders.csv", newline="") as handle:\n    reader = csv.DictReader(handle)\n'
        '    for row in reader:\n        print(row["id"])\n```\n\nEvery row comes back as '
        "a dictionary whose keys are the column headers.",
    ),
    _rewrite(
        "subscription cancel",
        "You can cancel at any time from **Account → Subscription**. Your plan stays active "
        "until the end of the current billing period, and you won’t be charged again. If you "
        "change your mind before then, click “Resume” and nothing is lost.",
        "Cancelling is possible whenever you like under **Account → Subscription**. The plan "
        "keeps working until the billing period ends and no further payment is taken. Changed "
        "your mind? Hit “Resume” before the period ends and everything stays as it was.",
    ),
    _rewrite(
        "meeting summary",
        "Summary of today’s call: the team agreed to move the launch to 14 May, because the "
        "payment provider needs two more weeks for certification. Marketing will update the "
        "campaign dates, and José will tell the three pilot customers by Friday.",
        "Today’s call in short: launch moves to 14 May, since the payment provider needs an "
        "extra two weeks to finish certification. Marketing is updating the campaign "
        "calendar, and José will inform the three pilot customers before Friday.",
    ),
    _rewrite(
        "tax invoice",
        "Yes, every invoice includes VAT at 20% and shows our VAT number (FR 12 345678901). "
        "You can download past invoices as PDF from the Billing page. If you need your "
        "company’s name or address changed on them, update it in Billing details and the "
        "next invoice will use it.",
        "Our invoices all show VAT at 20% together with our VAT number, FR 12 345678901. Past "
        "invoices can be downloaded as PDFs on the Billing page. To put a different company "
        "name or address on them, edit Billing details — the change applies from the next "
        "invoice onwards.",
    ),
    _rewrite(
        "git undo commit",
        "To undo the last commit but keep your changes, run `git reset --soft HEAD~1`. The "
        "files stay staged, so you can fix them and commit again. If you already pushed, "
        "prefer `git revert HEAD`, which adds a new commit instead of rewriting history.",
        "Run `git reset --soft HEAD~1` to undo the latest commit while keeping its changes "
        "staged; then amend and commit again. Once the commit has been pushed, use `git "
        "revert HEAD` instead — it records a new commit rather than rewriting shared history.",
    ),
    _rewrite(
        "spanish both sides",
        "Puedes cambiar la dirección de entrega hasta que el pedido salga del almacén. Entra "
        "en Mis pedidos, elige el pedido y pulsa «Cambiar dirección». Si ya ha salido, "
        "contacta con el transportista con el número de seguimiento que te enviamos por "
        "correo electrónico.",
        "La dirección de entrega se puede modificar mientras el pedido no haya salido del "
        "almacén: ve a Mis pedidos, selecciona el pedido y toca «Cambiar dirección». Si ya "
        "está en camino, habla con el transportista usando el número de seguimiento del "
        "correo que te mandamos.",
    ),
    _rewrite(
        "french both sides",
        "Votre abonnement est renouvelé automatiquement chaque année à la même date. Vous "
        "recevrez un rappel par e-mail quinze jours avant l’échéance. Pour le résilier, "
        "rendez-vous dans Mon compte, rubrique « Abonnement », puis cliquez sur « Résilier ».",
        "L’abonnement se renouvelle tout seul chaque année, à la date anniversaire. Un e-mail "
        "de rappel vous est envoyé quinze jours avant. Pour y mettre fin, allez dans Mon "
        "compte, section « Abonnement », et choisissez « Résilier ».",
    ),
    _rewrite(
        "api rate limit",
        "The API allows 600 requests per minute per token. When you exceed it you get HTTP "
        "429 with a `Retry-After` header saying how many seconds to wait. Spread bursts over "
        "time, and use the batch endpoint for bulk updates: one call can carry up to 100 "
        "records.",
        "Each token may make 600 API requests a minute. Going over returns HTTP 429, and the "
        "`Retry-After` header tells you how long to wait in seconds. Smooth out bursts and "
        "send bulk changes through the batch endpoint, which takes up to 100 records per call.",
    ),
    _rewrite(
        "bullet tips",
        "A few tips for a faster checkout:\n\n- Save your card in your account.\n- Turn on "
        "address autocomplete.\n- Use Apple Pay or Google Pay on mobile.",
        "Some ways to check out faster:\n\n* Store your card in your account settings.\n* "
        "Enable address autocomplete.\n* On your phone, pay with Apple Pay or Google Pay.",
    ),
    _rewrite(
        "warranty",
        "All our appliances come with a two-year warranty covering manufacturing defects. It "
        "doesn’t cover accidental damage or wear from normal use. To make a claim, keep your "
        "receipt and describe the fault in the Warranty form; we usually reply within three "
        "working days.",
        "Every appliance we sell has a two-year warranty against manufacturing faults. "
        "Accidental damage and normal wear and tear aren’t included. For a claim, hold on to "
        "your receipt and fill in the Warranty form with a description of the fault — expect "
        "a reply within three working days.",
    ),
    _rewrite(
        "headings both",
        "### Before you start\nMake sure the device is charged above 50%.\n\n### Steps\nHold "
        "the power button for ten seconds until the logo appears, then release it and wait "
        "for the update screen.",
        "### Before starting\nCharge the device to more than 50% first.\n\n### What to do\n"
        "Press and hold the power button for about ten seconds, let go when the logo shows, "
        "and wait for the update screen to appear.",
    ),
    _rewrite(
        "curly quotes dialogue",
        "When the customer says “I never received it”, check the tracking first: if it shows "
        "“delivered”, ask them to look with neighbours and in safe places. If it doesn’t, "
        "open a claim with the carrier straight away.",
        "If a customer tells you “it never arrived”, look at the tracking before anything "
        "else. When it reads “delivered”, suggest they check with neighbours and any safe "
        "place; when it doesn’t, file a claim with the carrier right away.",
    ),
    _rewrite(
        "accented names schedule",
        "Your appointment with Dr. Müller-Åkesson is confirmed for Tuesday at 10:30 at the "
        "Göteborg clinic. Please arrive ten minutes early and bring your insurance card. If "
        "you need to reschedule, do it at least 24 hours in advance to avoid a fee.",
        "We’ve confirmed your appointment with Dr. Müller-Åkesson on Tuesday at 10:30, at the "
        "clinic in Göteborg. Come ten minutes early with your insurance card. Rescheduling "
        "less than 24 hours ahead incurs a fee, so please change it before then if needed.",
    ),
    _rewrite(
        "sql explanation",
        "A `LEFT JOIN` keeps every row from the left table, even when there’s no match on the "
        "right; the missing columns come back as `NULL`. An `INNER JOIN` keeps only rows that "
        "match on both sides. So to find customers without orders, left-join orders and keep "
        "rows where `orders.id IS NULL`.",
        "With a `LEFT JOIN` you get all rows of the left table, and where the right table has "
        "no match its columns are `NULL`. An `INNER JOIN` returns only the rows matching on "
        "both sides. Customers with no orders: left-join orders, then filter on "
        "`orders.id IS NULL`.",
    ),
    _rewrite(
        "return label",
        "We’ve emailed you a prepaid return label. Print it, stick it on the original box and "
        "drop the parcel at any post office within 30 days. Once it’s scanned, you’ll receive "
        "a confirmation and the refund follows within a week.",
        "A prepaid return label is on its way to your inbox. Print it out, attach it to the "
        "original packaging and hand the parcel in at a post office within 30 days. You’ll "
        "get a confirmation when it’s scanned, and the refund arrives within a week.",
    ),
    _rewrite(
        "numbered troubleshooting",
        "Try these in order:\n\n1. Restart the router and wait two minutes.\n2. Forget the "
        "Wi-Fi network on your laptop and reconnect.\n3. Update the network driver.\n\nIf "
        "none of this helps, send us the router’s model number.",
        "Please go through these steps:\n\n1. Reboot the router, then give it two minutes.\n2. "
        "On the laptop, forget the Wi-Fi network and join it again.\n3. Install the latest "
        "network driver.\n\nStill no luck? Reply with your router’s model number.",
    ),
    _rewrite(
        "data export",
        "You can export all your data from **Settings → Privacy → Export**. We prepare a ZIP "
        "file with your projects, comments and uploaded files, and email you a download link "
        "when it’s ready — usually within an hour. The link stays valid for seven days.",
        "Head to **Settings → Privacy → Export** to download everything. We bundle your "
        "projects, comments and uploads into a ZIP and send you a link by email once it’s "
        "done, normally in under an hour. The link works for seven days.",
    ),
    _rewrite(
        "recipe substitution",
        "If you don’t have buttermilk, stir one tablespoon of lemon juice into a cup of milk "
        "and let it sit for five minutes. It curdles slightly and works just as well in "
        "pancakes, scones or soda bread. Plain yoghurt thinned with a little water is another "
        "option.",
        "No buttermilk? Mix a tablespoon of lemon juice into a cup of milk and leave it for "
        "five minutes; it thickens a little and does the same job in pancakes, scones and "
        "soda bread. You can also thin some plain yoghurt with water.",
    ),
    _rewrite(
        "two factor",
        "Two-factor authentication adds a code from your phone to every sign-in. Turn it on "
        "under **Security**, scan the QR code with an authenticator app, and save the backup "
        "codes somewhere safe — they’re the only way in if you lose your phone.",
        "With two-factor authentication, each sign-in also needs a code from your phone. "
        "Enable it in **Security**, scan the QR code using an authenticator app, and keep the "
        "backup codes in a safe place: without your phone, they’re your only way back in.",
    ),
    _rewrite(
        "gift card",
        "Gift cards can be used online and in all our shops, and they’re valid for 12 months "
        "from purchase. You can check the balance on the Gift cards page by entering the "
        "16-digit number. They can’t be exchanged for cash, but any remaining balance stays "
        "on the card.",
        "Our gift cards work both online and in every shop, for 12 months after they’re "
        "bought. To see the balance, enter the 16-digit number on the Gift cards page. Cash "
        "exchange isn’t possible, though whatever you don’t spend remains on the card.",
    ),
    _rewrite(
        "docker port",
        "The container listens on port 8000 inside, so publish it with `-p 8080:8000` to "
        "reach it at http://localhost:8080. If the page doesn’t load, check that the app "
        "binds to 0.0.0.0 rather than 127.0.0.1, otherwise it’s only reachable from inside "
        "the container.",
        "Inside the container the app listens on 8000; map it with `-p 8080:8000` and open "
        "http://localhost:8080. Nothing loading? Make sure the app binds to 0.0.0.0 and not "
        "127.0.0.1 — bound to localhost it can only be reached from within the container.",
    ),
    _rewrite(
        "table both",
        "| Plan | Price | Users |\n|---|---|---|\n| Starter | €9 | 1 |\n| Team | €29 | 10 "
        "|\n\nPrices are per month, VAT excluded.",
        "| Plan | Monthly price | Seats |\n|------|------|------|\n| Starter | €9 | 1 |\n| "
        "Team | €29 | 10 |\n\nAll prices are monthly and exclude VAT.",
    ),
    _rewrite(
        "late fee",
        "A late fee of €5 is added when a payment is more than seven days overdue. We send "
        "reminders three days before the due date and on the day itself. If you’re having "
        "trouble paying, contact us before the due date and we can set up a payment plan.",
        "Payments more than seven days late incur a €5 fee. You’ll get a reminder three days "
        "ahead of the due date and another on the day. Struggling to pay? Get in touch before "
        "the due date and we’ll arrange a payment plan with you.",
    ),
    _rewrite(
        "can't wait event",
        "Thanks for signing up for the workshop on 3 June! We can’t wait to see you. The "
        "session starts at 14:00 in Room B of the Städtische Bibliothek; bring a laptop with "
        "Python 3.11 installed, and we’ll provide the rest.",
        "Thank you for registering for the 3 June workshop — we can't wait to meet you. It "
        "begins at 14:00 in Room B at the Städtische Bibliothek. Please bring a laptop with "
        "Python 3.11; everything else is provided.",
    ),
    _rewrite(
        "privacy deletion",
        "When you delete your account, we remove your profile, projects and files within 30 "
        "days. Invoices are kept for ten years because tax law requires it, but they’re no "
        "longer linked to a login. You’ll get an email when the deletion is complete.",
        "Deleting your account removes your profile, projects and files within 30 days. We "
        "must keep invoices for ten years under tax law, though they’re no longer tied to any "
        "login. An email confirms when the deletion has finished.",
    ),
    _rewrite(
        "bold emphasis varies",
        "Please note: **orders placed after 14:00** ship the next working day. Express "
        "delivery is available for €7.90 and arrives the following day if ordered before "
        "noon.",
        "Heads-up: orders placed after 14:00 go out the next working day. You can choose "
        "**express delivery** for €7.90, which arrives the day after if you order before "
        "noon.",
    ),
    _rewrite(
        "regex explanation",
        "The pattern `^\\d{5}(-\\d{4})?$` matches a US ZIP code: five digits, optionally "
        "followed by a hyphen and four more. The `^` and `$` anchor it to the whole string, so "
        "`12345-678` or `abc12345` won’t match.",
        "`^\\d{5}(-\\d{4})?$` matches US ZIP codes — five digits, with an optional hyphen and "
        "four further digits. Because of the `^` and `$` anchors it must match the entire "
        "string; `12345-678` and `abc12345` are rejected.",
    ),
    _rewrite(
        "onboarding email",
        "Welcome aboard, Søren! Your workspace is ready. Start by inviting your teammates from "
        "the People page, then connect your calendar so meetings show up automatically. Our "
        "getting-started guide walks you through the rest in about ten minutes.",
        "Welcome, Søren — your workspace is all set. First invite your colleagues on the "
        "People page, then link your calendar so meetings appear on their own. The "
        "getting-started guide covers everything else in roughly ten minutes.",
    ),
    _rewrite(
        "memory leak advice",
        "A steadily growing memory graph usually means something keeps references alive: a "
        "cache without a size limit, listeners that are never removed, or a global list that "
        "only grows. Take two heap snapshots a few minutes apart and compare which objects "
        "increased.",
        "Memory that climbs steadily is usually references being held on to — an unbounded "
        "cache, event listeners nobody removes, or a global list that only ever grows. "
        "Capture two heap snapshots several minutes apart and compare which object counts "
        "went up.",
    ),
    _rewrite(
        "portuguese both",
        "Você pode acompanhar a entrega pelo link enviado no e-mail de confirmação. O prazo "
        "normal é de três a cinco dias úteis após a emissão da nota fiscal. Se o pedido "
        "atrasar, fale conosco pelo chat e abriremos uma reclamação com a transportadora.",
        "A entrega pode ser acompanhada pelo link que mandamos no e-mail de confirmação. "
        "Normalmente leva de três a cinco dias úteis depois da emissão da nota fiscal. Em "
        "caso de atraso, chame a gente no chat e abriremos uma reclamação com a "
        "transportadora.",
    ),
    _rewrite(
        "hotel check-in",
        "Check-in at Hôtel Beauséjour starts at 15:00 and check-out is by 11:00. Early "
        "check-in depends on availability; ask at reception on arrival. Luggage can be left "
        "at the desk free of charge before and after your stay.",
        "At Hôtel Beauséjour you can check in from 15:00, and check-out is at 11:00 at the "
        "latest. Whether you can arrive early depends on availability — just ask reception. "
        "The front desk will store your luggage for free before and after your stay.",
    ),
    _rewrite(
        "kubernetes restart",
        "Pods in `CrashLoopBackOff` are restarting because the container exits soon after "
        "starting. Run `kubectl logs <pod> --previous` to see the output of the last crash; "
        "a missing environment variable or a failed database connection is the usual cause.",
        "`CrashLoopBackOff` means the container keeps exiting shortly after it starts, so "
        "Kubernetes restarts it over and over. Check `kubectl logs <pod> --previous` for the "
        "previous crash’s output — most often it’s a missing environment variable or a "
        "database connection that fails.",
    ),
    _rewrite(
        "loyalty points",
        "You earn one point for every euro you spend, and 100 points give you €5 off your "
        "next order. Points appear in your account 14 days after delivery, once the return "
        "window has closed, and they expire after two years without any purchase.",
        "Every euro spent earns a point; 100 points are worth €5 off a future order. They "
        "show up in your account 14 days after delivery, when the return period is over, and "
        "expire if you make no purchase for two years.",
    ),
    _rewrite(
        "emoji friendly",
        "Great news 🎉 your order #58213 is packed and leaves today! You’ll get a text with "
        "the tracking number once the courier scans it, usually this evening. Thanks for "
        "shopping with us 💚",
        "Good news 🎉 order #58213 is packed and goes out today. The courier’s scan triggers a "
        "text with your tracking number — normally by this evening. Thank you for shopping "
        "with us! 💚",
    ),
    _rewrite(
        "contract notice",
        "Your contract can be ended with one month’s notice to the end of any calendar month. "
        "Send the notice in writing, by email or letter, and include your customer number. "
        "We’ll confirm the end date within five working days.",
        "You may terminate the contract with one month’s notice, effective at the end of a "
        "calendar month. Give notice in writing — email or post — quoting your customer "
        "number, and we’ll confirm the end date within five working days.",
    ),
]
