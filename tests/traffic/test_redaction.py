"""The redactor changes exactly what it recognises, and recognises real personal data."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from rollout_site.settings import _phone_regions
from tests.traffic.redaction_corpus import MUST_STAY, PII
from traffic.redaction import redactor_for

REGIONS = ("US", "GB", "DE", "FR", "IN", "JP")


def _redactor(regions=("US",), custom=()):
    return redactor_for(emails=True, phones=True, cards=True, custom=custom, phone_regions=regions)


def test_a_numbered_list_after_a_year_comes_out_unchanged():
    text = "in 1994.\n\n6. Next"
    assert redactor_for(emails=True, phones=True, cards=True, custom=[]).text(text) == text


@pytest.mark.parametrize("regions", [("US",), REGIONS], ids=["default-region", "six-regions"])
def test_nothing_in_the_must_stay_corpus_changes(regions):
    redactor = _redactor(regions)
    changed = [(text, out) for text in MUST_STAY if (out := redactor.text(text)) != text]
    assert len(MUST_STAY) >= 150
    assert changed == [], f"{len(changed)} of {len(MUST_STAY)} changed"


def test_every_item_of_personal_data_is_caught_and_nothing_around_it_changes():
    # National formats under their own region; "+" numbers, e-mails and cards under the default.
    missed = [
        (item.text, out)
        for item in PII
        if (out := _redactor((item.region or "US",)).text(item.text)) != item.expected
    ]
    assert len(PII) >= 80
    assert {item.label for item in PII} == {"[email]", "[phone]", "[card]"}
    assert missed == [], f"{len(missed)} of {len(PII)} missed"


def test_with_six_regions_every_item_is_still_caught_in_a_long_document():
    # The worst case for both directions: every kind of text in one answer, one redactor.
    pieces = [piece for pair in zip(MUST_STAY, PII, strict=False) for piece in pair]
    rest = MUST_STAY[len(PII) :]
    document = "\n\n".join([*(p if isinstance(p, str) else p.text for p in pieces), *rest])
    expected = "\n\n".join([*(p if isinstance(p, str) else p.expected for p in pieces), *rest])
    assert _redactor(REGIONS).text(document) == expected


@pytest.mark.parametrize("region", REGIONS)
def test_international_numbers_are_found_whatever_the_region(region):
    international = [item for item in PII if item.secret.startswith("+")]
    assert len(international) >= 15
    redactor = _redactor((region,))
    assert [redactor.text(item.text) for item in international] == [
        item.expected for item in international
    ]


def test_a_national_number_is_read_in_the_configured_region(settings):
    text = "Ring 020 7946 0958 today"
    assert redactor_for(emails=True, phones=True, cards=True, custom=[]).text(text) == text
    settings.REDACT_PHONE_REGION = ["US", "GB"]
    redactor = redactor_for(emails=True, phones=True, cards=True, custom=[])
    assert redactor.text(text) == "Ring [phone] today"


def test_the_region_setting_is_checked_naming_the_variable():
    assert _phone_regions(["gb", "de"]) == ["GB", "DE"]
    assert _phone_regions(["US"]) == ["US"]
    with pytest.raises(ImproperlyConfigured, match="REDACT_PHONE_REGION names UK"):
        _phone_regions(["US", "UK"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1112 ok", "card 4111 1111 1111 1112 ok"),  # fails the Luhn check
        ("id 94111111111111111 ok", "id 94111111111111111 ok"),  # a slice of a longer number
        ("id 41111111111111110000 ok", "id 41111111111111110000 ok"),
        ("4111 1111 1111 1111 12/26 123", "[card] 12/26 123"),  # expiry and CVC stay apart
        ("1111 1111 1111 1117 ok", "1111 1111 1111 1117 ok"),  # no scheme starts with 1
        ("4111 1111-1111 1111", "4111 1111-1111 1111"),  # one separator throughout
    ],
)
def test_cards_need_a_luhn_valid_whole_number(text, expected):
    assert _redactor().text(text) == expected


def test_line_breaks_and_surrounding_text_are_kept():
    text = "Hi,\r\n\r\ncall +1 415 555 2671\nor mail jane@example.com.\n\n\tThanks!\n"
    expected = "Hi,\r\n\r\ncall [phone]\nor mail [email].\n\n\tThanks!\n"
    assert _redactor().text(text) == expected


def test_custom_patterns_replace_their_matches_and_never_an_empty_one():
    redactor = _redactor(custom=[r"ACME-\d+", r"z*"])
    assert redactor.text("order ACME-12345, ref zz.") == "order [redacted], ref [redacted]."


def test_value_redacts_every_string_in_a_json_value_and_leaves_keys_alone():
    value = {
        "jane@example.com": "write to jane@example.com",
        "n": 1994,
        "ok": True,
        "none": None,
        "calls": [
            {"name": "lookup", "arguments": '{"phone": "+44 20 7946 0958"}'},
            ["4111 1111 1111 1111", 3.5],
        ],
    }
    assert _redactor().value(value) == {
        "jane@example.com": "write to [email]",
        "n": 1994,
        "ok": True,
        "none": None,
        "calls": [
            {"name": "lookup", "arguments": '{"phone": "[phone]"}'},
            ["[card]", 3.5],
        ],
    }
    assert _redactor().value("Founded in 1994.\n\n6. Next") == "Founded in 1994.\n\n6. Next"


def test_messages_redact_text_content_and_text_parts():
    messages = [
        {"role": "user", "content": "mail jane@example.com", "name": "ann"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "call +1 415 555 2671"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,4111111111"}},
            ],
        },
        {"role": "assistant", "content": None},
    ]
    assert _redactor().messages(messages) == [
        {"role": "user", "content": "mail [email]", "name": "ann"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "call [phone]"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,4111111111"}},
            ],
        },
        {"role": "assistant", "content": None},
    ]


def test_a_long_answer_full_of_numbers_is_redacted_in_a_few_milliseconds():
    # The phone library costs about 0.5 ms per number-like sequence it is shown; an answer of
    # dates, prices and versions must not pay that for each of them (it did: 120 ms per 4 KB).
    paragraph = (
        "Founded in 1994, it shipped 3.11.7 on 2024-08-06 at 14:30 for $1,299.00 (€12.50 a "
        "month); order 88213, build 10.0.19045.3693, id 1733011200, ISBN 978-3-16-148410-0.\n\n"
    )
    answer = (paragraph * 40)[:4096]
    redactor = _redactor()
    assert redactor.text(answer) == answer
    started = time.perf_counter()
    for _ in range(20):
        redactor.text(answer)
    per_answer = (time.perf_counter() - started) / 20
    assert per_answer < 0.02, f"{per_answer * 1000:.1f} ms per 4 KB answer"


def test_a_hostile_body_costs_little_and_numbers_past_the_budget_are_still_redacted():
    hostile = "1 " * 25_000  # one "number-like sequence" of 50,000 characters
    started = time.process_time()
    assert _redactor(REGIONS).text(hostile) == "[phone] "
    assert time.process_time() - started < 1.0  # it took 4 s for six regions without a budget
    calls = "\n".join(f"- call (415) 555-{2600 + i:04d}" for i in range(300))
    assert _redactor().text(calls) == "\n".join(["- call [phone]"] * 300)
