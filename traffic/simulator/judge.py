"""The simulator's judge: deterministic answers to Rollout Desk's judge prompts.

A chat request whose system prompt carries MARKER is answered as a judge would, from fixed rules
documented in README.md ("The judge"), rather than as a support assistant. Like every other
simulated answer it is a pure function of the request.

The pairwise rules include a position bias on purpose: two different answers of about the same
length make it pick "A", whichever answer that is. A judge asked in one order only would then
report a preference that is an artefact of the order; judged in both orders (evaluations/judge.py)
the two picks land on opposite sides and cancel to a tie.

The prompt protocol (MARKER, the mode lines, the section tags) is a copy of
evaluations/judging/prompts.py, which this layer cannot import; a test checks they agree.
"""

import json
import re
from typing import Any

from traffic.refusals import is_refusal

from .behaviours import REFUSAL as REFUSAL_TEXT
from .behaviours import Behaviour, Prompt, refuses, system_text

MARKER = "You are Rollout Desk's evaluation judge."
POINTWISE_MODE = "Mode: pointwise grading."
PAIRWISE_MODE = "Mode: pairwise comparison."
# Judge prompts carry whole outputs, so more of the message is read than for an answer
# (behaviours.READ_LIMIT); still bounded.
JUDGE_READ_LIMIT = 200_000
# Two answers whose word counts differ by at most this share of the longer are "about the same
# length": the rule that shows the position bias.
SAME_LENGTH_SHARE = 0.10
NEGATIONS = frozenset({"not", "never", "without", "no", "avoid", "avoids", "don't", "doesn't"})

_QUOTED = re.compile(r"[\"“]([^\"“”\n]{1,100})[\"”]")
_CLAUSE_END = re.compile(r"[.;:,!?\n]")
_FENCED = re.compile(r"^```[ \t]*\w*[ \t]*\n.*\n?```$", re.DOTALL)


def is_judge_prompt(prompt: Prompt) -> bool:
    return MARKER in system_text(prompt)


def _user_text(prompt: Prompt) -> str:
    for message in reversed(prompt.messages):
        if message.role == "user":
            return message.content[:JUDGE_READ_LIMIT]
    return ""


def section(text: str, tag: str) -> str:
    """The text inside <tag>...</tag> (the judge defangs tags inside the data, so the first
    closing tag is the section's own)."""
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return match.group(1) if match else ""


def _is_json(text: str) -> bool:
    try:
        json.loads(text.strip())
    except ValueError:
        return False
    return True


def _mentions_json(text: str) -> bool:
    return re.search(r"\bjson\b", text, re.IGNORECASE) is not None


def _negated(text: str, at: int) -> bool:
    """Whether one of the three words before `at`, in the same clause, is a negation."""
    before = _CLAUSE_END.split(text[:at])[-1]
    return bool(NEGATIONS.intersection(re.findall(r"[a-z']+", before.lower())[-3:]))


def keyword_terms(rubric: str) -> list[tuple[str, bool]]:
    """(term, required) for each double-quoted term of the rubric: required unless negated
    ('must not mention "refund"')."""
    terms = []
    for match in _QUOTED.finditer(rubric):
        terms.append((match.group(1).strip(), not _negated(rubric, match.start())))
    return [(term, required) for term, required in terms if term]


# --- pointwise -------------------------------------------------------------------------------


def grade(*, rubric: str, output: str) -> dict[str, Any]:
    """{"reasoning", "pass", "score"} by the rules in README.md, first match wins."""
    if not output.strip():
        return {"reasoning": "The output is empty.", "pass": False, "score": 0.0}
    refused = is_refusal(output)
    asks = re.search(r"\b(refus\w*|declin\w*)\b", rubric, re.IGNORECASE)
    if asks and not _negated(rubric, asks.start()):
        if refused:
            return {
                "reasoning": "The rubric asks for a refusal; it refuses.",
                "pass": True,
                "score": 1.0,
            }
        return {
            "reasoning": "The rubric asks for a refusal; it does not refuse.",
            "pass": False,
            "score": 0.0,
        }
    if refused:
        return {"reasoning": "The output refuses to answer.", "pass": False, "score": 0.0}
    if _mentions_json(rubric) and not _is_json(output):
        why = (
            "JSON wrapped in a Markdown fence"
            if _FENCED.match(output.strip())
            else "not valid JSON"
        )
        return {
            "reasoning": f"The rubric asks for JSON; the output is {why}.",
            "pass": False,
            "score": 0.0,
        }
    terms = keyword_terms(rubric)
    lowered = output.lower()
    missing = [t for t, required in terms if required and t.lower() not in lowered]
    forbidden = [t for t, required in terms if not required and t.lower() in lowered]
    if missing or forbidden:
        problems = [f'it does not mention "{t}"' for t in missing]
        problems += [f'it mentions "{t}"' for t in forbidden]
        score = round(1 - (len(missing) + len(forbidden)) / len(terms), 2)
        return {
            "reasoning": "Against the rubric, " + "; ".join(problems) + ".",
            "pass": False,
            "score": score,
        }
    checked = f" and has all {len(terms)} quoted term(s) right" if terms else ""
    return {"reasoning": f"The output answers the question{checked}.", "pass": True, "score": 1.0}


# --- pairwise --------------------------------------------------------------------------------


def _bad(text: str) -> bool:
    return not text.strip() or is_refusal(text)


def compare(*, question: str, rubric: str, a: str, b: str) -> dict[str, Any]:
    """{"reasoning", "winner"} by the rules in README.md, first match wins."""
    if " ".join(a.split()) == " ".join(b.split()):
        return {"reasoning": "The two answers are the same.", "winner": "tie"}
    bad_a, bad_b = _bad(a), _bad(b)
    if bad_a and bad_b:
        return {"reasoning": "Both answers are empty or refusals.", "winner": "tie"}
    if bad_a != bad_b:
        winner = "B" if bad_a else "A"
        return {
            "reasoning": f"Only answer {winner} answers (the other is empty or a refusal).",
            "winner": winner,
        }
    if _mentions_json(question) or _mentions_json(rubric):
        json_a, json_b = _is_json(a), _is_json(b)
        if json_a != json_b:
            winner = "A" if json_a else "B"
            return {
                "reasoning": f"JSON was asked for and only answer {winner} is valid JSON.",
                "winner": winner,
            }
    words_a, words_b = len(a.split()), len(b.split())
    if abs(words_a - words_b) <= SAME_LENGTH_SHARE * max(words_a, words_b):
        # The deliberate position bias (module docstring): about equally good -> the first one.
        return {
            "reasoning": "Both answers are about equally good; answer A reads slightly better.",
            "winner": "A",
        }
    winner = "A" if words_a < words_b else "B"
    shorter, longer = sorted((words_a, words_b))
    return {
        "reasoning": f"Answer {winner} is more concise ({shorter} words against {longer}).",
        "winner": winner,
    }


def answer(prompt: Prompt, behaviour: Behaviour) -> str:
    """The judge's message content: refusals as for any answer, the verdict as one JSON object
    (fenced when the version fences its JSON, so the judge's fence parsing gets exercised)."""
    if refuses(prompt, behaviour):
        return REFUSAL_TEXT
    text = _user_text(prompt)
    rubric = section(text, "rubric")
    if PAIRWISE_MODE in system_text(prompt):
        data = compare(
            question=section(text, "question"),
            rubric=rubric,
            a=section(text, "answer_a"),
            b=section(text, "answer_b"),
        )
    else:
        data = grade(rubric=rubric, output=section(text, "output"))
    body = json.dumps(data, ensure_ascii=False)
    return f"```json\n{body}\n```" if behaviour.json_fence else body
