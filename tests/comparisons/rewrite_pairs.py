# ruff: noqa: RUF001, E501  (real text: curly quotes, dashes and long lines are the point)
"""Realistic answer pairs from two versions of one model family, written for the diff tests:
rewrites (the newer model restructures and rewords, keeps some sentences) and close edits."""

ROUTER_OLD = """To reset your router to factory settings, follow these steps:

1. Locate the small **Reset** button on the back of the router. It’s usually recessed, so you’ll need a paperclip.
2. With the router powered on, press and hold the button for about 10 seconds.
3. Release the button and wait for the lights to blink; the router will restart.
4. Connect to the default network printed on the label under the router.

Note that a factory reset erases all your settings, including the Wi‑Fi name and password. If you only want to restart the router, unplug it for 30 seconds instead.

Let me know if you need help setting it up again!"""

ROUTER_NEW = """## Factory reset

A factory reset returns the router to the state it left the factory in. **Everything you changed is erased**: the Wi‑Fi name, the password, port forwarding rules and parental controls.

### Steps

- Keep the router switched on.
- Find the recessed **Reset** button on the back of the router; you’ll need a paperclip or a pin.
- Press and hold the button for about 10 seconds.
- Let go once the lights start blinking. The router restarts, which takes two or three minutes.
- Join the default network printed on the label under the router and sign in with the default password from the same label.

### Just want a restart?

If you only want to restart the router, unplug it for 30 seconds instead. That keeps your settings.

Would you like instructions for setting up the Wi‑Fi again afterwards?"""

REFUND_OLD = """I’m sorry to hear your order arrived damaged. Here’s what you can do:

- **Request a refund**: go to *Orders*, choose the order and click “Report a problem”. Refunds are issued within 5–7 business days.
- **Ask for a replacement**: choose “Replace item” instead. We’ll ship it free of charge.

You don’t need to send the damaged item back. Please keep a photo of the damage in case our team asks for it.

Is there anything else I can help you with?"""

REFUND_NEW = """Sorry about that — a damaged delivery is frustrating.

You have two options, both from the *Orders* page (pick the order, then “Report a problem”):

| Option | What happens | When |
| --- | --- | --- |
| Refund | The full amount goes back to your original payment method | 5–7 business days |
| Replacement | A new item ships free of charge | Usually within 2 days |

There’s no need to return the damaged item. It helps to take a photo of the damage, since the support team may ask for one.

Anything else I can do for you?"""

CODE_OLD = """You can read a CSV file with Python’s built-in `csv` module:

```python
import csv

with open("data.csv", newline="") as f:
    reader = csv.DictReader(f)
    for row in reader:
        print(row["name"])
```

`DictReader` uses the first row as column names, so each row is a dictionary. If your file uses semicolons, pass `delimiter=";"`."""

CODE_NEW = """The simplest way is the standard library’s `csv` module. `csv.DictReader` maps each row to a dictionary keyed by the header row:

```python
import csv
from pathlib import Path

with Path("data.csv").open(newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        print(row["name"])
```

A few things to watch for:

1. Always open the file with `newline=""`, otherwise quoted fields containing line breaks are split.
2. Pass `encoding="utf-8"` explicitly; the default depends on the platform.
3. For semicolon-separated files (common in Europe), use `csv.DictReader(f, delimiter=";")`.

For large files or heavy analysis, `pandas.read_csv` is faster and does type conversion for you."""

REWRITES = [(ROUTER_OLD, ROUTER_NEW), (REFUND_OLD, REFUND_NEW), (CODE_OLD, CODE_NEW)]

# The same answer with a few edits: a changed figure, one reworded clause.
CLOSE_OLD = REFUND_OLD
CLOSE_NEW = REFUND_OLD.replace("5–7 business days", "3–5 business days").replace(
    "Please keep a photo", "Please take a photo"
)
