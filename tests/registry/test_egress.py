"""The egress policy at save time: where a provider may point and which variable may hold its
key (registry/egress.py, applied by Provider.clean through the registry service)."""

import socket

import pytest
from django.core.exceptions import ValidationError

from registry import egress
from registry.models import Provider
from registry.services import registry

REFUSED_URLS = [
    "http://127.0.0.1:8000/v1",
    "http://localhost:11434/v1",
    "http://app.localhost/v1",
    "http://[::1]/v1",
    "http://169.254.169.254/latest/meta-data",  # cloud metadata
    "http://[fe80::1]/v1",
    "http://10.0.0.5/v1",
    "http://172.16.3.4/v1",
    "http://192.168.1.10/v1",
    "http://100.64.0.1/v1",  # shared (CGNAT) space
    "http://[fd00::1]/v1",  # unique-local
    "http://0.0.0.0:8000/v1",
    "http://[::]/v1",
    "http://[::ffff:127.0.0.1]/v1",  # IPv4-mapped IPv6
    "http://[::ffff:169.254.169.254]/v1",
    "http://[64:ff9b::a9fe:a9fe]/v1",  # NAT64 of the metadata address
    "http://224.0.0.1/v1",
]


def _save(**fields) -> Provider:
    values = {"name": "p", "api_style": "openai_chat", "base_url": "https://api.openai.com/v1"}
    return registry.provider_save(provider=Provider(**{**values, **fields}), actor=None)


@pytest.fixture
def no_exceptions(settings):
    settings.PROVIDER_ALLOWED_HOSTS = []
    return settings


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_provider_on_a_non_public_address_is_refused(db, no_exceptions, url):
    with pytest.raises(ValidationError) as info:
        _save(base_url=url)
    message = info.value.message_dict["base_url"][0]
    assert "PROVIDER_ALLOWED_HOSTS" in message  # names the way out
    assert not Provider.objects.exists()


def test_a_name_that_resolves_to_a_private_address_is_refused(db, no_exceptions, monkeypatch):
    answers = {"llm.example.com": ["93.184.216.34", "10.1.2.3"]}

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ValidationError) as info:
        _save(base_url="https://llm.example.com/v1")
    assert "llm.example.com resolves to 10.1.2.3" in info.value.message_dict["base_url"][0]

    answers["llm.example.com"] = ["93.184.216.34"]
    assert _save(base_url="https://llm.example.com/v1").pk


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://8.8.8.8/v1"])
def test_a_public_provider_is_accepted(db, no_exceptions, url):
    assert _save(base_url=url).pk


def test_the_operator_may_allow_list_a_host_or_a_network(db, settings):
    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1", "10.0.0.0/8", "vllm.internal"]
    assert _save(name="sim", base_url="http://127.0.0.1:8000/simulator/v1").pk
    assert _save(name="vllm", base_url="http://10.9.8.7:8000/v1").pk
    assert _save(name="named", base_url="http://vllm.internal:8000/v1").pk
    with pytest.raises(ValidationError):
        _save(name="meta", base_url="http://169.254.169.254/v1")  # not in the list


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "AUDIT_HMAC_KEY",
        "SECRET_KEY_FILE",
        "OPENAI_API_KEY_FILE",
        "DJANGO_SETTINGS_MODULE",
        "PGPASSWORD",
        "HOME",
        "PATH",
    ],
)
def test_a_key_variable_that_is_not_a_provider_key_is_refused(db, name):
    with pytest.raises(ValidationError) as info:
        _save(api_key_env=name)
    assert set(info.value.message_dict) == {"api_key_env"}
    assert name in info.value.message_dict["api_key_env"][0]
    assert not Provider.objects.exists()


def test_the_allow_list_never_admits_the_products_own_secrets(db, settings):
    settings.PROVIDER_KEY_ENV_ALLOWLIST = ["SECRET_KEY", "LEGACY_LLM_KEY"]
    with pytest.raises(ValidationError) as info:
        _save(api_key_env="SECRET_KEY")
    assert "own settings" in info.value.message_dict["api_key_env"][0]
    assert _save(api_key_env="LEGACY_LLM_KEY").pk


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_API_TOKEN", ""])
def test_provider_key_variables_are_accepted(db, name):
    assert _save(api_key_env=name).pk


def test_the_policy_reads_embedded_ipv4_in_every_ipv6_form():
    allowed = egress.Allowed.parse([])
    for text in ["::ffff:7f00:1", "64:ff9b::7f00:1", "2002:7f00:1::1"]:
        assert egress.url_problem(f"http://[{text}]/", allowed=allowed, resolve=False)
    assert egress.url_problem("https://[2606:4700::1111]/", allowed=allowed) is None
