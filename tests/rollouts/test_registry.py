from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError

from registry.errors import Conflict, DomainError
from registry.models import AuditEvent, Feature, ModelConfig, ModelVersion, Provider
from registry.services import registry
from registry.services.audit import db_now


def test_a_floating_alias_is_refused_on_save_and_nothing_is_written(provider):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as info:
        registry.model_version_save(
            version=ModelVersion(provider=provider, model_id="gpt-4o"), actor=None
        )
    assert "gpt-4o-2024-08-06" in str(info.value.message_dict["model_id"])
    assert not ModelVersion.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_self_hosted_version_needs_a_weights_revision(db):
    local = registry.provider_save(
        provider=Provider(
            name="vLLM",
            api_style="openai_chat",
            base_url="http://127.0.0.1:9000/v1",
            self_hosted=True,
        ),
        actor=None,
    )
    with pytest.raises(ValidationError) as info:
        registry.model_version_save(
            version=ModelVersion(provider=local, model_id="llama-3.1-8b"), actor=None
        )
    assert "weights_revision" in info.value.message_dict
    version = registry.model_version_save(
        version=ModelVersion(
            provider=local, model_id="llama-3.1-8b", weights_revision="sha256:" + "ab" * 32
        ),
        actor=None,
    )
    assert version.pk


def test_a_provider_refuses_a_non_http_url_and_a_key_in_place_of_the_env_var_name(db):
    with pytest.raises(ValidationError) as info:
        registry.provider_save(
            provider=Provider(
                name="x", api_style="openai_chat", base_url="ftp://h/v1", api_key_env="sk-abc123"
            ),
            actor=None,
        )
    assert set(info.value.message_dict) == {"base_url", "api_key_env"}
    assert not Provider.objects.exists()


def test_the_database_refuses_a_non_http_base_url_even_without_validation(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(name="x", api_style="openai_chat", base_url="file:///etc/passwd")


def test_every_registry_change_writes_one_audit_event_with_before_and_after(provider, release):
    provider.timeout = 12.5
    registry.provider_save(provider=provider, actor=release, reason="slow upstream")
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "provider.update"
    assert event.actor_label == "release"
    assert event.before["timeout"] == 60.0
    assert event.after["timeout"] == 12.5
    assert event.reason == "slow upstream"
    # Saving without a change writes nothing.
    registry.provider_save(provider=provider, actor=release)
    assert AuditEvent.objects.order_by("-id").first() == event


def test_a_failed_change_rolls_back_its_audit_event_too(feature, make_config):
    other = make_config("support v2")
    count = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        registry.feature_switch_config(feature=feature, config=other, actor=None, reason="upgrade")
        raise RuntimeError("crash after the switch, before commit")
    assert AuditEvent.objects.count() == count
    feature.refresh_from_db()
    assert feature.served_config.name == "support v1"
    assert feature.previous_config is None


def test_a_referenced_config_is_immutable_and_edits_become_a_revision(feature):
    config = feature.served_config
    assert config.locked
    config.system_prompt = "Changed prompt"
    revision = registry.config_revise(config=config, actor=None, reason="tweak")
    assert revision.pk != config.pk
    assert revision.revision_of_id == config.pk
    assert revision.system_prompt == "Changed prompt"
    assert not revision.locked
    assert ModelConfig.objects.get(pk=config.pk).system_prompt == "You help {customer}."


def test_an_unreferenced_config_is_edited_in_place(make_config):
    config = make_config("draft")
    config.temperature = 0.5
    saved = registry.config_revise(config=config, actor=None)
    assert saved.pk == config.pk
    assert ModelConfig.objects.get(pk=config.pk).temperature == 0.5


def test_the_database_refuses_to_change_a_locked_config_behind_the_services_back(feature):
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        ModelConfig.objects.filter(pk=feature.served_config_id).update(system_prompt="sneaky")
    # Archiving flags are not content: they may still change.
    ModelConfig.objects.filter(pk=feature.served_config_id).update(archived=False)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"system_prompt": "Hi {name"}, "system_prompt", "{{ and }}"),
        ({"system_prompt": "Hi {0}"}, "system_prompt", "plain name"),
        ({"response_format": "json_schema"}, "json_schema", "needs a schema"),
        ({"json_schema": {"type": 12}}, "json_schema", "Not a valid JSON schema"),
        ({"temperature": 3.0}, "temperature", "less than or equal to 2"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(make_version, fields, field, words):
    version = make_version()
    with pytest.raises(ValidationError) as info:
        registry.config_create(
            config=ModelConfig(name="c", model_version=version, **fields), actor=None
        )
    assert words in " ".join(info.value.message_dict[field])


def test_a_config_on_a_retired_version_is_refused_and_names_the_successor(make_version):
    successor = make_version("gpt-4o-2024-11-20")
    old = make_version(
        "gpt-4o-2024-05-13",
        released=db_now().date() - timedelta(days=400),
        deprecates=db_now().date() - timedelta(days=1),
        successor=successor,
    )
    with pytest.raises(ValidationError) as info:
        registry.config_create(config=ModelConfig(name="c", model_version=old), actor=None)
    assert "gpt-4o-2024-11-20" in info.value.message_dict["model_version"][0]


def test_switching_pins_the_previous_config_for_thirty_days(feature, make_config):
    old = feature.served_config
    new = make_config("support v2")
    registry.feature_switch_config(feature=feature, config=new, actor=None, reason="upgrade")
    feature.refresh_from_db()
    assert feature.served_config == new
    assert feature.previous_config == old
    assert feature.pinned_until - db_now() > timedelta(days=29, hours=23)
    with pytest.raises(DomainError, match="rollback target"):
        registry.config_archive(config=old, actor=None)
    with pytest.raises(DomainError, match="serves feature"):
        registry.config_archive(config=new, actor=None)
    # Once the pin expires the old config may be archived.
    Feature.objects.filter(pk=feature.pk).update(pinned_until=db_now() - timedelta(seconds=1))
    registry.config_archive(config=old, actor=None, reason="cleanup")
    assert ModelConfig.objects.get(pk=old.pk).archived


def test_a_switch_needs_a_reason(feature, make_config):
    with pytest.raises(ValidationError) as info:
        registry.feature_switch_config(
            feature=feature, config=make_config("v2"), actor=None, reason=" "
        )
    assert "reason" in info.value.message_dict


def test_the_loser_of_a_concurrent_switch_is_told_to_reload(feature, make_config):
    stale = Feature.objects.get(pk=feature.pk)
    registry.feature_switch_config(
        feature=feature, config=make_config("v2"), actor=None, reason="first"
    )
    with pytest.raises(Conflict, match="reload"):
        registry.feature_switch_config(
            feature=stale, config=make_config("v3"), actor=None, reason="second"
        )


def test_the_previous_config_cannot_equal_the_served_one_in_the_database(feature):
    with pytest.raises(IntegrityError), transaction.atomic():
        Feature.objects.filter(pk=feature.pk).update(
            previous_config=feature.served_config, pinned_until=db_now()
        )


def test_feature_keys_are_slugs(make_config):
    with pytest.raises(ValidationError) as info:
        registry.feature_create(
            key="Support Reply!", name="x", served_config=make_config(), actor=None
        )
    assert "key" in info.value.message_dict
    assert not Feature.objects.exists()
