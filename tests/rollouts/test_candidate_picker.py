"""The candidate picker: only the feature's own configs (and unused ones), differences from the
baseline, and "new config from the baseline"; another feature's config is refused server-side."""

import pytest
from django.core.exceptions import ValidationError

from registry.models import ModelConfig, Rollout
from registry.services import registry
from rollouts.services import rollouts
from rollouts.services.candidates import candidate_choices, config_differences


@pytest.fixture
def summary_feature(make_config, make_version):
    config = make_config(
        "summary v1",
        make_version("gpt-4o-mini-2024-07-18"),
        system_prompt="Summarise the ticket for {agent}.",
    )
    return registry.feature_create(
        key="ticket-summary", name="Ticket summary", served_config=config, actor=None
    )


@pytest.fixture
def support_revision(feature, make_version):
    return registry.config_create(
        config=ModelConfig(
            name="support v1.1",
            model_version=make_version("gpt-4o-2024-11-20"),
            system_prompt="You help {customer}, kindly.",
            temperature=0.2,
            revision_of=feature.served_config,
        ),
        actor=None,
    )


def test_the_picker_offers_only_the_features_lineage(feature, summary_feature, support_revision):
    names = [c.config.name for c in candidate_choices(summary_feature)]
    assert "support v1" not in names and "support v1.1" not in names
    support = {c.config.name: c.origin for c in candidate_choices(feature)}
    assert support["support v1.1"] == "support-reply: revision of support v1"
    assert "summary v1" not in support


def test_another_features_prompt_is_refused(feature, summary_feature, client_for):
    with pytest.raises(ValidationError) as info:
        rollouts.rollout_create(
            feature=summary_feature, candidate=feature.served_config, actor=None
        )
    assert "belongs to feature 'support-reply'" in info.value.message_dict["candidate"][0]
    page = client_for("release").post(  # a forged form: the view re-checks
        "/rollouts/new/",
        {
            "feature": "ticket-summary",
            "candidate": str(feature.served_config.code),
            "shadow_sample_percent": "100",
            "shadow_daily_cap": "10",
            "review_sample_percent": "10",
            "double_review_percent": "10",
        },
    )
    assert "belongs to feature" in page.content.decode()
    assert not Rollout.objects.exists()


def test_differences_show_model_prompt_and_parameters(feature, support_revision):
    diff = config_differences(feature.served_config, support_revision)
    assert diff["model"] == ("gpt-4o-2024-05-13", "gpt-4o-2024-11-20")
    assert {"kind": "removed", "text": "-You help {customer}."} in diff["prompt"]
    assert {"kind": "added", "text": "+You help {customer}, kindly."} in diff["prompt"]
    assert diff["parameters"] == [{"name": "temperature", "baseline": None, "candidate": 0.2}]


def test_the_page_lists_each_choice_with_its_model_and_previews_differences(
    feature, support_revision, client_for
):
    client = client_for("release")
    page = client.get("/rollouts/new/?feature=support-reply").content.decode()
    assert "support v1.1 <code>gpt-4o-2024-11-20</code>" in page
    preview = client.post(
        "/rollouts/new/",
        {
            "feature": "support-reply",
            "candidate": str(support_revision.code),
            "preview": "1",
            "shadow_sample_percent": "100",
            "shadow_daily_cap": "10",
            "review_sample_percent": "10",
            "double_review_percent": "10",
        },
    ).content.decode()
    assert "+You help {customer}, kindly." in preview and not Rollout.objects.exists()


def test_a_new_config_from_the_baseline_is_validated_and_joins_the_lineage(
    feature, client_for, make_version
):
    version = make_version("o3-mini-2025-01-31")
    form = {
        "feature": "support-reply",
        "candidate": "new",
        "new_model_version": str(version.code),
        "new_system_prompt": "You help {customer} briefly.",
        "new_temperature": "0.7",
        "shadow_sample_percent": "100",
        "shadow_daily_cap": "10",
        "review_sample_percent": "10",
        "double_review_percent": "10",
    }
    client = client_for("release")
    refused = client.post("/rollouts/new/", form).content.decode()
    assert "new_temperature" in refused  # a reasoning model takes no temperature
    assert not Rollout.objects.exists()
    created = client.post("/rollouts/new/", {**form, "new_temperature": ""})
    rollout = Rollout.objects.get()
    assert created["Location"] == f"/rollouts/{rollout.code}/"
    assert rollout.candidate.revision_of == feature.served_config
    assert rollout.candidate.model_version == version
