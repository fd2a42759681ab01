# ruff: noqa: RUF001 (look-alike dashes, quotes and full-width digits are the point here)
"""A corpus for the redactor, in both directions (tests/traffic/test_redaction.py).

MUST_STAY: text shaped like real model answers and inputs, full of numbers that are not personal
data (years before numbered lists, dates, times, versions, prices, IDs, addresses of machines,
model ids, nonces) in several languages and typographies; it must come out byte for byte.

PII: e-mail addresses, phone numbers (US, UK, DE, FR, IN, JP; national and "+" forms) and card
numbers (the schemes' published test numbers), each in a sentence; exactly the secret must turn
into its label, and nothing around it may change.
"""

from typing import NamedTuple

MUST_STAY: list[str] = [
    # --- numbered lists after a year (the reported fault) ---------------------------------------
    "in 1994.\n\n6. Next",
    "Founded in 1994.\n\n6. Next",
    "The company was founded in 1994.\n\n2. Growth\n3. Acquisitions\n4. Today",
    "Key dates:\n\n1. 1969 – Apollo 11 lands.\n2. 1989 – The Berlin Wall falls.\n3. 2001 – "
    "Wikipedia launches.",
    "It shipped in 2019.\n\n10. Outlook for 2025\n11. Risks",
    "Revenue grew 12% in 2023.\n\n7. Margins\n8. Headcount (1,204 people)",
    "Released 1998\n\n7) Seventh point\n8) Eighth point",
    "Born 1952.\n\n1. Early life\n\n2. Career (1974–2010)\n\n3. Legacy",
    "As of 2024.\n\n12. Frequently asked questions",
    "Between 1914 and 1918.\n\n3. The interwar years",
    "### History\n\nThe library opened in 1887.\n\n5. Collections\n6. Opening hours",
    "1. Install Python 3.11.\n2. Run `pip install -r requirements.txt`.\n3. Start the server "
    "on port 8000.\n4. Open http://localhost:8000/ in a browser.",
    "Steps (2024):\n\n1. Back up the database.\n\n2. Upgrade to 16.4.\n\n3. Re-index.",
    "Top 5 in 2023:\n\n1. Python\n2. JavaScript\n3. Java\n4. C#\n5. C++",
    # --- prose with numbers -----------------------------------------------------------------------
    "The Eiffel Tower is 330 metres tall and was completed on 31 March 1889 after 2 years, 2 "
    "months and 5 days of work by about 300 workers.",
    "Paris had a population of 2,102,650 in 2023, down from 2,165,423 in 2019.",
    "Light travels at 299,792,458 m/s, so it reaches the Moon (384,400 km) in about 1.28 s.",
    "The result is significant (p = 0.0031, n = 1,842, 95% CI 0.12–0.37).",
    "Your flight LH 2417 leaves at 07:45 from gate B44 and lands at 10:20 local time.",
    "Room 1204, building 7, floor 12. The meeting is at 3:30 PM.",
    "The answer is 42. The next prime after 1000000 is 1000003.",
    "Pi is approximately 3.14159265358979, and e is about 2.718281828.",
    "We processed 12345678 events yesterday, up 3.2% on the week.",
    "Coordinates: 48.8566° N, 2.3522° E (or 48.8566, 2.3522 in decimal form).",
    "New York is at 40.7128, -74.0060; Sydney at -33.8688, 151.2093.",
    "Temperatures ranged from -12 °C to 38 °C; the average was 14.6 °C.",
    "Chapter 12, pages 304–317, footnote 9.",
    "The 2024–2025 season runs from 1 September to 31 May.",
    "Ages 18-65, BMI 18.5-24.9, blood pressure 120/80 mmHg.",
    "The score was 3–1 after 90+4 minutes.",
    "Score: 98/100. Rank: 3 of 1,250.",
    "Use a 16:9 aspect ratio at 1920x1080 or 3840 x 2160 pixels.",
    "Call 911 in an emergency, or 112 in Europe.",
    # --- dates and times --------------------------------------------------------------------------
    "The release is on 2024-08-06.",
    "Invoice date: 06/08/2024, due 05/09/2024.",
    "Datum: 06.08.2024, Frist: 20.08.2024.",
    "Timestamp: 2024-08-06T14:30:00Z (2024-08-06T16:30:00+02:00 in Berlin).",
    "Logged at 2024-08-06 14:30:15.123 by worker 3.",
    "Date: Tue, 06 Aug 2024 14:30:00 +0000",
    "From 2024-08-06 09:00 to 2024-08-06 17:30 UTC.",
    "Between 2019-01-01 and 2024-12-31 there were 2,191 days.",
    "The meeting is at 14:30, then again at 2:45 pm and 18h15.",
    "Elapsed: 00:12:34.567. Started 09:15:42.",
    "Unix time 1733011200 is 2024-12-01 00:00:00 UTC; in milliseconds 1733011200000.",
    "created_at=1733011200 updated_at=1733097600",
    "Week 32 of 2024 (2024-W32), day 219 (2024-219).",
    "Born 14 July 1789; died 5 May 1821.",
    # --- versions ---------------------------------------------------------------------------------
    "Upgrade from v1.2.3 to v1.10.0 (see the changelog for 1.9.4).",
    "Python 3.11.7, Django 5.2.1, PostgreSQL 16.4, Redis 7.2.5.",
    "Windows 10 build 10.0.19045.3693 and macOS 14.6.1 (23G93).",
    "Chrome 127.0.6533.99 is installed; Firefox 129.0.1 too.",
    "Version 2.0.0-rc.1+build.20240806 is a pre-release.",
    "npm install lodash@4.17.21 react@18.3.1 typescript@5.5.4",
    "pip install requests==2.32.3 'urllib3>=2.2.2,<3'",
    "FROM python:3.11.7-slim-bookworm",
    "The kernel is 6.8.0-40-generic; glibc 2.39.",
    # --- prices and money -------------------------------------------------------------------------
    "The laptop costs $1,299.00, or $108.25 a month for 12 months.",
    "Ein Kaffee kostet 3,20 €, ein Menü €12.50.",
    "Le prix est de 1 299,00 € TTC (1 082,50 € HT).",
    "Total: £1,000.00 + VAT (£200.00) = £1,200.00.",
    "価格は¥150,000（税込¥165,000）です。",
    "Budget: USD 2,499,999.99; spent: USD 1,234,567.89.",
    "Salary range: $85,000–$120,000 per year.",
    # --- identifiers ------------------------------------------------------------------------------
    "Your order #A-10492 has shipped; order 88213 is on its way.",
    "Invoice INV-2024-000123 was paid; credit note CN-2024-000045 issued.",
    "Request id: 123e4567-e89b-12d3-a456-426614174000",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
    "ISBN-13: 9780306406157",
    "Commit 3f2a9c81e4b0d7765a12f09e6b3c4d5e6f708192 fixed it (short: 3f2a9c8).",
    "Merged in a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 on main.",
    "Ticket JIRA-1234 and PR #5678 are linked.",
    "Tracking number 1Z999AA10123456784 (UPS).",
    "Patent US 10,123,456 B2 was granted.",
    "SKU 40-1187-22, lot 2024-0815, serial SN 8842-1190-3375.",
    "Case no. 2024-CV-001234 was filed.",
    "nonce-2484-49991424",
    "The CSP header was script-src 'nonce-2484-49991424' 'strict-dynamic'.",
    "req_8f3a2b1c9d, idempotency key 7d1e4c2a-1b3f-4e5d-9a8b-0c1d2e3f4a5b",
    "Build #20240806.3 passed 1,482 of 1,482 tests.",
    "Error code 0x80070005 (E_ACCESSDENIED), HRESULT -2147024891.",
    "Product key area code 207 is not a phone number here: ref 207-1994.",
    # --- machines and networks --------------------------------------------------------------------
    "The server is at 192.168.100.200; the gateway at 10.0.0.1.",
    "Connect to 203.0.113.195:8080 or [2001:db8::1]:8443.",
    "DATABASE_URL=postgres://app@127.0.0.1:5432/app",
    "Listening on 0.0.0.0:8000 (pid 48213).",
    "MAC 00:1A:2B:3C:4D:5E, VLAN 120, MTU 1500.",
    "The subnet 172.16.0.0/12 holds 1,048,576 addresses.",
    # --- model ids --------------------------------------------------------------------------------
    "Pinned to gpt-4o-2024-08-06; the candidate is gpt-4o-mini-2024-07-18.",
    "claude-sonnet-4-5-20250929 replaces claude-3-5-sonnet-20241022.",
    "Models: gpt-4-0613, gpt-3.5-turbo-0125, gemini-1.5-pro-002, llama-3.1-70b-instruct.",
    "model=gpt-4o-2024-08-06 temperature=0.2 max_tokens=1024 seed=20240806",
    # --- code -------------------------------------------------------------------------------------
    "```python\ndef area(r: float) -> float:\n    return 3.14159 * r ** 2\n\n\nprint(area(2.5))"
    "  # 19.6349375\n```",
    "```python\n@app.route('/users/<int:user_id>')\ndef user(user_id):\n    return db.get(user_id)"
    "\n```",
    "```js\nconst TIMEOUT_MS = 30_000;\nsetTimeout(() => retry(3), 1500);\n```",
    '```json\n{"id": 1733011200, "price": 1299.0, "tags": ["a", "b"], "ratio": 0.618}\n```',
    "```sql\nSELECT id, created FROM orders WHERE id > 100000 AND created >= '2024-08-06'"
    "\nORDER BY id LIMIT 50;\n```",
    "```bash\ncurl -s http://127.0.0.1:8000/api/v1/health | jq .\nexport PORT=8000\n```",
    "```css\n.card { color: #1a2b3c; margin: 0 auto; max-width: 1200px; }\n@media (min-width: "
    "768px) { .card { padding: 24px; } }\n```",
    "```python\nresult = weights @ inputs + bias  # matrix product\n```",
    "```regex\n^\\d{3}-\\d{2}-\\d{4}$\n```",
    "    x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n    y = x[::2]",
    "Use `range(0, 1000000, 250000)` to get 0, 250000, 500000 and 750000.",
    "The image is icon@2x.png (and logo@3x.webp for high-density screens).",
    "Mention @alice and @bob in the channel; follow @rolloutdesk.",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "| year | users |\n| --- | --- |\n| 2022 | 1,204 |\n| 2023 | 15,880 |\n| 2024 | 98,112 |",
    # --- many languages and typographies ----------------------------------------------------------
    "Die Firma wurde 1994 gegründet.\n\n6. Ausblick: „Wir wachsen weiter“, sagt die Chefin.",
    "Öffnungszeiten: Mo–Fr 9:00–18:00 Uhr, Sa 10:00–14:00 Uhr. Größe: 42,5 m².",
    "L’entreprise a été fondée en 1994. « C’est une réussite », dit-elle ; l’équipe compte "
    "1 204 personnes.",
    "Rendez-vous le 06/08/2024 à 14 h 30 — n’oubliez pas !",
    "Le 14 juillet 1789, la Bastille tombe.\n\n2. La Terreur (1793–1794)",
    "会社は1994年に設立されました。\n\n6. 今後の展望",
    "2024年8月6日 14時30分に公開されます。バージョン3.11.7です。",
    "東京の人口は約1,400万人です。「ありがとう」と言いました。",
    "تأسست الشركة عام 1994.\n\n6. الخطوات التالية",
    "في عام ٢٠٢٤ بلغ عدد المستخدمين ١٢٣٤٥ مستخدمًا.",
    "公司成立于1994年，现有员工1,204人。",
    "La empresa se fundó en 1994. ¿Cuántos empleados tiene? Unos 1.204.",
    "Компания основана в 1994 году. Цена — 1 299,00 ₽.",
    "कंपनी की स्थापना 1994 में हुई थी। २०२४ में १२०० कर्मचारी थे।",
    "Ünlü şirket 1994'te kuruldu; 2024'te 1.204 çalışanı var.",
    "Emoji test 🎉 1994 🚀 2024 ✅ 3.11.7 — “smart quotes” and ‘single’ ones… done.",
    "Curly: it’s “fine” — isn’t it? ‘Yes’, she said.",
    "Non-breaking spaces: 1\u00a0299\u00a0€ and 10\u202f000 km and 2024\u00a0–\u00a02025.",
    "Tabs\tand\ttrailing spaces   \nand Windows line endings\r\nstay\r\n",
    "Zero-width\u200bspace and soft\u00adhyphen in 1994\u200b2024.",
    # --- more of the same, from other kinds of answers -------------------------------------------
    "Flight AF 1234 on 2024-08-06, seat 23A, booking reference X7K9QZ.",
    "The population of India is 1,428,627,663 (2023 estimate).",
    "Zip codes 94105 and 10001; postcode SW1A 1AA; PLZ 10115 Berlin.",
    "Account created 2023-11-14 22:13:20 UTC (epoch 1700000000).",
    "iPhone 15 Pro (A3102), 256 GB, iOS 17.6.1.",
    "Tokyo is at 35.6762, 139.6503.",
    "The matrix [[1, 2, 3], [4, 5, 6], [7, 8, 9]] has determinant 0.",
    "Fibonacci: 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987.",
    "Years: 1994, 2004, 2014, 2024.",
    "Years 1994 2004 2014 2024 2034",
    "The vote was 218–212 with 5 abstentions.",
    "Frame #12 at 0x7ffee4b2c9a0 in libc.so.6",
    "GUID {3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    "Feiertage: 25.12.2024 und 26.12.2024.",
    "Durée : 1 h 45 min ; distance : 12,5 km.",
    "Dates: 2024/08/06, 08/06/24 and 6.8.24.",
    "ORCID 0000-0002-1825-0097",
    "DOI 10.1000/182 and arXiv:2407.21783v1",
    "ISSN 2049-3630",
    "EAN 4006381333931",
    "Shipped 123456789012 units in total.",
    "Fault 0xC0000005 at 2024-08-06 14:30:15.",
    "LSN 16/B374D848, txid 7654321.",
    "Pod api-7d9f8c6b5-x2x4q restarted 3 times.",
    "docker run -p 8080:80 -e TZ=Europe/Berlin nginx:1.27.0",
    "The wars of 1914-1918 and 1939-1945.",
    "郵便番号は100-0001です。",
    "Die Umsatzsteuer-ID lautet DE123456789.",
    "SIRET 732 829 320 00074",
    "PIN code 110001, New Delhi.",
    "Steuernummer 21/815/08150",
    "Ref. 2024-08-06-0001",
    "Batch 20240806143015 finished in 1.5 s.",
    "Range 1000–9999 and 10000–99999.",
    "Page 1 of 12 · 2,481 words · 9 min read",
    "",
    "   ",
    "\n\n\n",
]


class Pii(NamedTuple):
    template: str  # "{}" marks where the secret sits
    secret: str
    label: str
    region: str  # the region whose national format the secret is written in; "" for any

    @property
    def text(self) -> str:
        return self.template.replace("{}", self.secret)

    @property
    def expected(self) -> str:
        return self.template.replace("{}", self.label)


E, P, C = "[email]", "[phone]", "[card]"

PII: list[Pii] = [
    # --- e-mail addresses -------------------------------------------------------------------------
    Pii("Mail me at {}.", "jane.doe@example.com", E, ""),
    Pii("Subscribe with {} please", "first.last+newsletter@mail.example.co.uk", E, ""),
    Pii("Contact: {}\nThanks!", "j_smith@sub.dept.example.org", E, ""),
    Pii("Write to {} (Irish office).", "o'brien@example.ie", E, ""),
    Pii("ANSCHRIFT: {}", "ANNA.MUELLER@Beispiel.DE", E, ""),
    Pii("Send it to <{}>", "alice@example.net", E, ""),
    Pii('<a href="mailto:{}">mail</a>', "bob@example.org", E, ""),
    Pii("Schreiben Sie an „{}“.", "jürgen.müller@beispiel.de", E, ""),
    Pii("Écrivez à « {} » s’il vous plaît.", "contact@exemple.fr", E, ""),
    Pii("メールは{}までお願いします。", "tanaka@example.jp", E, ""),
    Pii("1. Founded in 1994.\n\n2. Email {}", "user123@gmail.com", E, ""),
    Pii("'{}'", "quoted@example.com", E, ""),
    Pii("x@y? No: {}!", "x@y.io", E, ""),
    Pii("Tags: {}, done", "dev-ops.team+alerts@corp.example.com", E, ""),
    # --- phone numbers, United States -------------------------------------------------------------
    Pii("Call me at {} tomorrow.", "(415) 555-2671", P, "US"),
    Pii("Phone: {}", "415-555-2671", P, "US"),
    Pii("Tel {}.", "415.555.2671", P, "US"),
    Pii("Ring {} after 5 pm", "415 555 2671", P, "US"),
    Pii("Call {} now", "+1 415 555 2671", P, ""),
    Pii("Office: {}\nFax: none", "+1 (212) 555-0148", P, ""),
    Pii("Toll: {}", "1-415-555-2671", P, "US"),
    Pii("- Phone: {}\n- Hours: 9:00–17:00", "+1-617-555-0199", P, ""),
    Pii("Founded in 1994.\n\n6. Call {}", "(415) 555-2671", P, "US"),
    # --- United Kingdom ---------------------------------------------------------------------------
    Pii("Ring {} for the London office.", "020 7946 0958", P, "GB"),
    Pii("London: {}", "+44 20 7946 0958", P, ""),
    Pii("Tel. {} (Mon–Fri)", "+44 (0)20 7946 0958", P, ""),
    Pii("Mobile {} anytime", "07911 123456", P, "GB"),
    Pii("Mobile: {}", "+44 7911 123456", P, ""),
    Pii("Manchester {}.", "0161 496 0754", P, "GB"),
    # --- Germany ----------------------------------------------------------------------------------
    Pii("Ruf an: {}", "030 901820", P, "DE"),
    Pii("Telefon {} (Zentrale)", "+49 30 901820", P, ""),
    Pii("Tel.: {}\nBitte zurückrufen.", "+49 (0)30 12345678", P, ""),
    Pii("Handy: {}", "0151 23456789", P, "DE"),
    Pii("Mobil {}.", "+49 151 23456789", P, ""),
    Pii("München {}", "089 1234567", P, "DE"),
    # --- France -----------------------------------------------------------------------------------
    Pii("Mon numéro : {} — merci !", "01 42 68 53 00", P, "FR"),
    Pii("Standard : {}", "+33 1 42 68 53 00", P, ""),
    Pii("Portable : {}.", "06 12 34 56 78", P, "FR"),
    Pii("Appelez le {}", "+33 6 12 34 56 78", P, ""),
    Pii("Tél. {}", "01.42.68.53.00", P, "FR"),
    # --- India ------------------------------------------------------------------------------------
    Pii("WhatsApp {} please", "+91 98765 43210", P, ""),
    Pii("Mobile: {}", "098765 43210", P, "IN"),
    Pii("Call {}.", "98765 43210", P, "IN"),
    Pii("Mumbai office {}", "+91-22-2345-6789", P, ""),
    Pii("Landline {}", "022 2345 6789", P, "IN"),
    # --- Japan ------------------------------------------------------------------------------------
    Pii("電話番号は{}です。", "03-1234-5678", P, "JP"),
    Pii("Tokyo: {}", "+81 3-1234-5678", P, ""),
    Pii("携帯：{}", "090-1234-5678", P, "JP"),
    Pii("Mobile {}", "+81 90 1234 5678", P, ""),
    Pii("電話：{}", "０３－１２３４－５６７８", P, "JP"),
    Pii("Office {} (main)", "(03) 1234-5678", P, "JP"),
    # --- cards (the schemes' published test numbers) ----------------------------------------------
    Pii("Card {} exp 12/26", "4111 1111 1111 1111", C, ""),
    Pii("Visa: {}", "4111-1111-1111-1111", C, ""),
    Pii("card={}&cvc=123", "4111111111111111", C, ""),
    Pii("Number {}.", "4012888888881881", C, ""),
    Pii("Old Visa {}", "4222222222222", C, ""),
    Pii("Mastercard {} ok", "5555 5555 5555 4444", C, ""),
    Pii("MC: {}", "5105-1051-0510-5100", C, ""),
    Pii("2-series {}", "2223 0031 2200 3222", C, ""),
    Pii("Amex {}", "3782 822463 10005", C, ""),
    Pii("Amex: {}", "378282246310005", C, ""),
    Pii("Amex card {}.", "3714-496353-98431", C, ""),
    Pii("Discover {}", "6011 1111 1111 1117", C, ""),
    Pii("Diners {}", "3056 930902 5904", C, ""),
    Pii("JCB {}", "3530 1113 3330 0000", C, ""),
    Pii("Karte: {} (gültig bis 12/26)", "4111 1111 1111 1111", C, ""),
    Pii("Founded in 1994.\n\n6. Pay with {}", "5555 5555 5555 4444", C, ""),
    # --- more of the same ---------------------------------------------------------------------
    Pii("Reach me on {}.", "+1 650 253 0000", P, ""),
    Pii("Call {}.", "(212) 736-5000", P, "US"),
    Pii("From abroad dial {}", "011 44 20 7946 0958", P, "US"),
    Pii("Aus dem Ausland: {}", "0049 30 901820", P, "DE"),
    Pii("Numéro : {}", "04 91 55 11 11", P, "FR"),
    Pii("Marseille {}", "+33 (0)4 91 55 11 11", P, ""),
    Pii("Bengaluru {}", "+91 80 2222 3333", P, ""),
    Pii("Marunouchi {}", "+81-3-3201-3331", P, ""),
    Pii("Tel:{}", "4155552671", P, "US"),
    Pii('<a href="tel:{}">call</a>', "+14155552671", P, ""),
    Pii("Call {} 14:30 sharp", "415 555 2671", P, "US"),
    Pii("at 14:30 {} (desk)", "415 555 2671", P, "US"),
    Pii("GET /callback?phone={}&ok=1", "4155552671", P, "US"),
    Pii("E-Mail: {}", "Max.Mustermann@t-online.de", E, ""),
    Pii("reply-to: {}", "noreply+12345@mailer.example.com", E, ""),
    Pii("Debit {}", "4000 0566 5566 5556", C, ""),
    Pii("Debit MC {}", "5200 8282 8282 8210", C, ""),
    Pii("Diners 14: {}", "3622 720627 1667", C, ""),
    Pii("UnionPay {}", "6200 0000 0000 0005", C, ""),
    Pii("Card: {}", "4242424242424242", C, ""),
]
