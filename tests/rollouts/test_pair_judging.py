"""The judge on a rollout's shadow pairs (rollouts/judging.py, rollouts/judge_tasks.py): stored
once per pair in both orders, kept apart from the reviewers' statistics, compared with them."""

import itertools
import json

import httpx
import pytest
from django.template.loader import render_to_string

from comparisons.models import Label, ShadowPair
from comparisons.services.stats import rollout_review_stats
from registry.models import ModelVersion, Provider
from registry.services import registry
from rollouts import judge_tasks
from rollouts.judging import judge_rollout_pairs, judge_summary, question_text
from rollouts.models import PairJudgement
from rollouts.services import rollouts
from tests.stub_provider import completion

_ids = itertools.count(1)


@pytest.fixture
def draft_rollout(feature, make_config, make_version):
    # A draft reviews pairs too (imported or replayed ones), and needs no gate to exist.
    candidate = make_config("support v2", make_version("gpt-4o-2024-11-20"))
    return rollouts.rollout_create(feature=feature, candidate=candidate, actor=None)


@pytest.fixture
def judged_rollout(draft_rollout, make_config):
    """A rollout with a judge config on a loopback provider (stubbed per test)."""
    provider = registry.provider_save(
        provider=Provider(
            name="Judge stub", api_style="openai_chat", base_url="http://127.0.0.1:9/v1"
        ),
        actor=None,
    )
    version = registry.model_version_save(
        version=ModelVersion(provider=provider, model_id="gpt-4o-2024-08-06"), actor=None
    )
    draft_rollout.judge_config = make_config("judge v1", version, system_prompt="")
    draft_rollout.save(update_fields=["judge_config"])
    return draft_rollout


@pytest.fixture
def make_pair(draft_rollout):
    def make(
        baseline: str = "It ships Monday.",
        candidate: str = "It ships Monday.",
        *,
        user_text: str = "Where is my parcel?",
        candidate_error: str = "",
    ) -> ShadowPair:
        n = next(_ids)
        return ShadowPair.objects.create(
            rollout=draft_rollout,
            request_key=f"judging-{n}",
            messages=[{"role": "user", "content": user_text}],
            baseline_config=draft_rollout.baseline,
            candidate_config=draft_rollout.candidate,
            served_variant="baseline",
            baseline_output=baseline,
            candidate_output=candidate,
            candidate_error=candidate_error,
        )

    return make


class StubJudge:
    """Prefers the answer containing "GOOD"; a tie when neither or both do. Counts calls."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fail:
            return httpx.Response(400, json={"error": {"message": "judge model unavailable"}})
        user = next(
            m["content"] for m in json.loads(request.content)["messages"] if m["role"] == "user"
        )
        a = user.split("<answer_a>\n", 1)[1].split("\n</answer_a>", 1)[0]
        b = user.split("<answer_b>\n", 1)[1].split("\n</answer_b>", 1)[0]
        winner = "tie" if ("GOOD" in a) == ("GOOD" in b) else ("A" if "GOOD" in a else "B")
        return httpx.Response(
            200, json=completion(json.dumps({"reasoning": "GOOD wins.", "winner": winner}))
        )

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def test_it_judges_each_pair_in_both_orders_and_stores_the_verdict(judged_rollout, make_pair):
    better = make_pair("It ships.", "GOOD: it ships Monday.", user_text="When?")
    worse = make_pair("GOOD: Monday.", "It ships.", user_text="When does it ship?")
    same = make_pair("Monday.", "On Monday.", user_text="Ship date?")
    stub = StubJudge()
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 3
    assert stub.calls == 6
    rows = {j.pair_id: j for j in PairJudgement.objects.all()}
    assert {pid: rows[pid].verdict for pid in rows} == {
        better.pk: "better",
        worse.pk: "worse",
        same.pk: "same",
    }
    orders = rows[better.pk].orders
    assert [(o["order"], o["winner"], o["verdict"]) for o in orders] == [
        ("baseline_first", "B", "better"),
        ("candidate_first", "A", "better"),
    ]
    assert orders[0]["reasoning"] == "GOOD wins."
    assert rows[better.pk].judge_id == judged_rollout.judge_config_id


def test_a_rerun_never_judges_a_pair_twice(judged_rollout, make_pair):
    make_pair("a", "GOOD b", user_text="q1")
    make_pair("a", "b", user_text="q2")
    stub = StubJudge()
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 2
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 0
    assert stub.calls == 4 and PairJudgement.objects.count() == 2
    make_pair("a", "c", user_text="q3")  # a new pair is picked up by the next run
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 1


def test_the_limit_bounds_one_run(judged_rollout, make_pair):
    for i in range(5):
        make_pair("a", f"b {i}", user_text=f"q{i}")
    assert (
        judge_rollout_pairs(rollout=judged_rollout, limit=3, transport=StubJudge().transport) == 3
    )
    assert PairJudgement.objects.count() == 3


def test_a_failing_judge_stores_an_error_with_its_message(judged_rollout, make_pair):
    make_pair("a", "b")
    judge_rollout_pairs(rollout=judged_rollout, transport=StubJudge(fail=True).transport)
    row = PairJudgement.objects.get()
    assert row.status == PairJudgement.Status.ERROR and row.verdict == ""
    assert "judge model unavailable" in row.error
    summary = judge_summary(judged_rollout)
    assert summary["errors"] == 1 and summary["judged"] == 0


def test_pairs_with_a_failed_side_and_rollouts_without_a_judge_are_left_alone(
    judged_rollout, make_pair
):
    make_pair("a", "", candidate_error="timeout")
    stub = StubJudge()
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 0
    judged_rollout.judge_config = None
    make_pair("a", "b", user_text="other")
    assert judge_rollout_pairs(rollout=judged_rollout, transport=stub.transport) == 0
    assert stub.calls == 0


def test_the_question_is_the_conversation_as_text():
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Where is "}, {"type": "text", "text": "it?"}],
        },
        {"role": "assistant", "content": None},
    ]
    assert question_text(messages) == "system: Be brief.\n\nuser: Where is it?"
    assert question_text("not a list") == ""


# --- the summary and agreement with the reviewers ------------------------------------------------

# (human verdict, judge verdict) per pair; kappa by hand: observed 10/12, expected
# (6*6 + 4*3 + 2*3) / 144 = 0.375, kappa = (0.8333 - 0.375) / 0.625 = 0.7333.
TABLE = (
    [("better", "better")] * 5
    + [("worse", "worse")] * 3
    + [("same", "same")] * 2
    + [("better", "same"), ("worse", "better")]
)


def _judged(rollout, pair, verdict: str, status: str = "done") -> PairJudgement:
    return PairJudgement.objects.create(
        pair=pair, judge=rollout.judge_config, verdict=verdict, status=status
    )


def test_kappa_against_the_reviewers_on_the_pairs_both_have_judged(judged_rollout, make_pair, cast):
    reviewer, second = cast["reviewer"], cast["release"]
    for i, (human, judged) in enumerate(TABLE):
        pair = make_pair(user_text=f"question {i}")
        Label.objects.create(pair=pair, reviewer=reviewer, verdict=human)
        _judged(judged_rollout, pair, judged)
    # Left out of the agreement: a human "both bad", a reviewers' disagreement, a judge error,
    # a pair only the judge has judged.
    both_bad = make_pair(user_text="both bad")
    Label.objects.create(pair=both_bad, reviewer=reviewer, verdict="both_bad")
    _judged(judged_rollout, both_bad, "same")
    split = make_pair(user_text="split")
    Label.objects.create(pair=split, reviewer=reviewer, verdict="better")
    Label.objects.create(pair=split, reviewer=second, verdict="worse")
    _judged(judged_rollout, split, "better")
    failed = make_pair(user_text="failed")
    Label.objects.create(pair=failed, reviewer=reviewer, verdict="worse")
    _judged(judged_rollout, failed, "", status="error")
    _judged(judged_rollout, make_pair(user_text="judge only"), "worse")

    summary = judge_summary(judged_rollout)
    agreement = summary["agreement"]
    assert (agreement.pairs, agreement.matches, agreement.both_bad_left_out) == (12, 10, 1)
    assert agreement.kappa == pytest.approx(0.7333, abs=1e-4) and not agreement.too_few
    assert summary["judged"] == 15 and summary["errors"] == 1
    rates = summary["rates"]
    assert (rates["better"].count, rates["same"].count, rates["worse"].count) == (7, 4, 4)
    assert rates["better"].total == 15 and 0 < rates["better"].low < 7 / 15 < rates["better"].high


def test_below_ten_shared_pairs_agreement_is_too_few(judged_rollout, make_pair, cast):
    for i in range(9):
        pair = make_pair(user_text=f"q {i}")
        Label.objects.create(pair=pair, reviewer=cast["reviewer"], verdict="better")
        _judged(judged_rollout, pair, "better")
    agreement = judge_summary(judged_rollout)["agreement"]
    assert agreement.pairs == 9 and agreement.too_few and agreement.kappa is None


def test_judge_labels_never_enter_the_review_statistics(judged_rollout, make_pair, cast):
    pairs = [make_pair(user_text=f"q {i}") for i in range(3)]
    Label.objects.create(pair=pairs[0], reviewer=cast["reviewer"], verdict="same")
    before = rollout_review_stats(judged_rollout)
    for pair in pairs:
        _judged(judged_rollout, pair, "worse")
    after = rollout_review_stats(judged_rollout)
    assert after.verdicts == before.verdicts and after.labels == before.labels == 1
    assert after.pairs_labelled == 1 and after.verdicts["worse"].count == 0
    assert Label.objects.count() == 1


# --- the card -----------------------------------------------------------------------------------


def test_the_card_shows_the_judge_its_rates_and_too_few(judged_rollout, make_pair):
    _judged(judged_rollout, make_pair(user_text="a"), "better")
    _judged(judged_rollout, make_pair(user_text="b"), "", status="error")
    html = render_to_string("rollouts/_judge.html", {"judge": judge_summary(judged_rollout)})
    assert "judge v1" in html and "gpt-4o-2024-08-06" in html
    assert "1 pair judged" in html and "1 error" in html
    assert '100% <span class="muted">(1 of 1)' in html
    assert "too few" in html and "n = 0 pairs" in html
    assert "Labels from the judge are kept apart from reviewers' labels" in html


def test_the_card_shows_kappa_with_n(judged_rollout, make_pair, cast):
    for i, (human, judged) in enumerate(TABLE):
        pair = make_pair(user_text=f"question {i}")
        Label.objects.create(pair=pair, reviewer=cast["reviewer"], verdict=human)
        _judged(judged_rollout, pair, judged)
    html = render_to_string("rollouts/_judge.html", {"judge": judge_summary(judged_rollout)})
    assert "Cohen's κ 0.7333 from n = 12 pairs" in html


def test_the_card_says_when_there_is_no_judge(draft_rollout):
    html = render_to_string("rollouts/_judge.html", {"judge": judge_summary(draft_rollout)})
    assert "No judge" in html


def test_the_card_escapes_the_judge_config_name(judged_rollout):
    config = judged_rollout.judge_config
    type(config).objects.filter(pk=config.pk).update(name="<script>x</script>")
    judged_rollout.refresh_from_db()
    html = render_to_string("rollouts/_judge.html", {"judge": judge_summary(judged_rollout)})
    assert "<script>x" not in html and "&lt;script&gt;" in html


# --- the tasks ----------------------------------------------------------------------------------


def test_the_beat_task_sends_one_message_per_rollout_with_pending_pairs(
    judged_rollout, make_pair, monkeypatch
):
    sent: list[tuple] = []
    monkeypatch.setattr(judge_tasks.judge_pairs, "apply_async", lambda args: sent.append(args))
    assert judge_tasks.judge_pending_pairs() == 0  # nothing to judge yet
    make_pair("a", "b")
    assert judge_tasks.judge_pending_pairs() == 1
    assert sent == [(judged_rollout.pk,)]


def test_the_task_judges_the_rollouts_pairs(judged_rollout, make_pair, monkeypatch):
    make_pair("a", "GOOD b")
    stub = StubJudge()
    real = judge_tasks.judge_rollout_pairs
    monkeypatch.setattr(
        judge_tasks,
        "judge_rollout_pairs",
        lambda *, rollout: real(rollout=rollout, transport=stub.transport),
    )
    assert judge_tasks.judge_pairs(judged_rollout.pk) == 1
    assert judge_tasks.judge_pairs(987654) == 0
    assert PairJudgement.objects.get().verdict == "better"
