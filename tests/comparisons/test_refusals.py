# ruff: noqa: RUF001 - curly quotes are what these texts are about
"""Refusal detection in both directions: real refusals (straight and curly apostrophes) are
caught, everyday uses of the same words are not."""

import pytest

from traffic.refusals import is_refusal

REFUSALS = [
    "I’m sorry, but I can’t help with that.",
    "I'm sorry, but I can't help with that.",
    "I‘m sorry, but I can‘t help with that.",
    "Sorry, I can’t assist with this request.",
    "I’m afraid I can’t do that.",
    "I apologize, but I’m unable to provide that information.",
    "I apologise, but I am not able to share details about other customers.",
    "Unfortunately, I can’t generate that kind of content.",
    "I can’t help with that.",
    "I cannot assist with creating malware.",
    "I won’t be able to help with this one.",
    "I'm unable to comply with that request.",
    "I must decline this request.",
    "I’ll have to decline.",
    "I'm not comfortable providing instructions for that.",
    "That request goes against my guidelines.",
    "This violates our usage policies, so I won’t continue.",
    "That’s not something I can help with.",
    "As an AI language model, I don’t have access to your account.",
    "Here is some context. " * 200 + "I’m sorry, but I can’t help with that request.",
]

ANSWERS = [
    "Sorry for the delay! Your parcel left today.",
    "Sorry for the wait — here it is.",
    "I can’t wait to see what you build with it!",
    "We can't wait to welcome you on Monday.",
    "I can’t help but notice your plan renews tomorrow.",
    "You can’t go wrong with the Team plan.",
    "I’m sorry to hear about the broken screen; a replacement is on its way.",
    "I’m sorry, I can’t find an order with that number. Could you send the 8-digit code?",
    "Unfortunately the parcel can’t be redirected once it has left the depot.",
    "If you cannot log in, reset your password from the sign-in page.",
    "The API returns 429 when you can’t keep under the rate limit.",
    "I can’t stress this enough: back up your data first.",
    "Our policy is to refund within 14 days.",
    "The court declined to hear the appeal in 2019.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_a_refusal_is_caught(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", ANSWERS)
def test_an_answer_that_only_sounds_like_one_is_not(text):
    assert not is_refusal(text)
