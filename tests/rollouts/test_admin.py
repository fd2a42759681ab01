"""The admin writes through the services: validation, audit events, immutability."""

from registry.models import AuditEvent, Feature, ModelConfig


def _config_form(config, **overrides):
    data = {
        "name": config.name,
        "model_version": config.model_version_id,
        "system_prompt": config.system_prompt,
        "temperature": "" if config.temperature is None else config.temperature,
        "max_tokens": "" if config.max_tokens is None else config.max_tokens,
        "response_format": config.response_format,
        "json_schema": "null",
        "reason": "",
    }
    data.update(overrides)
    return data


def test_editing_a_config_in_use_saves_a_new_revision(client_for, feature):
    config = feature.served_config
    response = client_for("admin").post(
        f"/admin/rollouts/modelconfig/{config.pk}/change/",
        _config_form(config, system_prompt="New words for {customer}.", reason="tone"),
        follow=True,
    )
    assert response.status_code == 200
    assert "saved as a new config" in response.content.decode()
    assert ModelConfig.objects.get(pk=config.pk).system_prompt == "You help {customer}."
    revision = ModelConfig.objects.get(revision_of=config)
    assert revision.system_prompt == "New words for {customer}."
    assert AuditEvent.objects.filter(action="config.create", object_id=str(revision.code)).exists()


def test_adding_a_version_with_a_floating_alias_shows_the_error_on_the_field(client_for, provider):
    response = client_for("admin").post(
        "/admin/rollouts/modelversion/add/",
        {"provider": provider.pk, "model_id": "gpt-4o", "reason": ""},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "gpt-4o-2024-08-06" in errors["model_id"][0]


def test_switching_a_feature_in_the_admin_needs_a_reason_and_is_audited(
    client_for, feature, make_config
):
    new = make_config("support v2")
    url = f"/admin/rollouts/feature/{feature.pk}/change/"
    data = {
        "name": feature.name,
        "description": "",
        "owner": "",
        "served_config": new.pk,
        "redact_emails": "on",
        "redact_phones": "on",
        "redact_cards": "on",
        "redact_custom": "[]",
        "flag_similarity_below": "0.5",
        "flag_length_ratio_min": "0.5",
        "flag_length_ratio_max": "2.0",
    }
    client = client_for("admin")
    refused = client.post(url, {**data, "reason": ""})
    assert refused.status_code == 200
    assert "reason" in refused.context["adminform"].form.errors
    assert Feature.objects.get(pk=feature.pk).served_config != new

    client.post(url, {**data, "reason": "cheaper"})
    feature.refresh_from_db()
    assert feature.served_config == new
    event = AuditEvent.objects.get(action="feature.switch_config")
    assert event.actor_label == "admin" and event.reason == "cheaper"


def test_nobody_deletes_registry_rows_from_the_admin(client_for, feature):
    response = client_for("admin").get(f"/admin/rollouts/feature/{feature.pk}/delete/")
    assert response.status_code == 403


def test_a_new_api_token_is_shown_once_on_a_page_and_never_in_a_cookie(client_for, feature):
    from django.contrib.messages import get_messages

    from registry.models import ApiToken

    client = client_for("admin")
    response = client.post(
        "/admin/rollouts/apitoken/add/", {"name": "support-app", "features": [feature.pk]}
    )
    assert response.status_code == 200  # the page itself, not a redirect
    token = ApiToken.objects.get(name="support-app")
    html = response.content.decode()
    marker = f'value="rdk_{token.prefix}_'
    assert marker in html
    plaintext = html.split('value="', 1)[1].split('"', 1)[0]
    assert "it will not be shown again" in html
    assert "no-store" in response["Cache-Control"]
    # Nowhere else: no Set-Cookie carries it, and no message waits in any storage.
    for morsel in response.cookies.values():
        assert plaintext not in morsel.value
        assert token.prefix not in morsel.value
    assert plaintext not in str(response.headers)
    assert not any(plaintext in str(m) for m in get_messages(response.wsgi_request))
    assert plaintext not in client.get("/admin/rollouts/apitoken/").content.decode()
    assert plaintext not in client.get("/admin/").content.decode()


def test_admins_read_dead_letters_but_cannot_change_them(client_for):
    from registry.models import DeadLetter

    letter = DeadLetter.objects.create(
        source="gateway", request_id="req-7", payload={"output": "x"}, error="value too long"
    )
    admin_client = client_for("admin")
    listing = admin_client.get("/admin/rollouts/deadletter/")
    assert listing.status_code == 200
    assert "req-7" in listing.content.decode() and "value too long" in listing.content.decode()
    assert admin_client.get("/admin/rollouts/deadletter/add/").status_code == 403
    assert admin_client.get(f"/admin/rollouts/deadletter/{letter.pk}/delete/").status_code == 403
