"""The import page: upload several files, preview, confirm once. Release managers only."""

# ruff: noqa: RUF001  (curly quotes, dashes and Japanese punctuation are the test data)

from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluations.models import Case, Suite

FIXTURES = Path(__file__).parent / "promptfoo"
URL = "/evaluations/import/"


def uploads(folder: str) -> list[SimpleUploadedFile]:
    # A browser sends bare file names, no folders.
    root = FIXTURES / folder
    return [
        SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()
    ]


def preview(client, feature, folder: str, main: str = ""):
    return client.post(URL, {"feature": feature.key, "main": main, "files": uploads(folder)})


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_only_release_managers_import(client_for, feature, who):
    client = client_for(who)
    assert client.get(URL).status_code == 403
    assert preview(client, feature, "summarize").status_code == 403
    assert client.post(reverse("eval_import_confirm"), {"token": "x"}).status_code == 403
    assert not Suite.objects.exists()


def test_signed_out_is_sent_to_sign_in(client_for):
    response = client_for(None).get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_takes_several_files(client_for, feature):
    response = client_for("release").get(URL, {"feature": feature.key})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file" name="files" id="id_files" multiple' in html
    assert f'<option value="{feature.key}" selected>' in html


def test_preview_then_confirm_imports_once(client_for, feature):
    client = client_for("release")
    response = preview(client, feature, "support-reply")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Import 30 cases into “Support reply – tone &amp; refund policy”" in html
    assert "assertion type &#x27;javascript&#x27; is not supported" in html
    assert "gpt-4o-mini-2024-07-18" in html  # the floating provider's pinned id
    assert not Suite.objects.exists()  # nothing before the confirm
    token = response.context["token"]
    confirm = client.post(reverse("eval_import_confirm"), {"token": token})
    suite = Suite.objects.get()
    assert confirm.status_code == 302
    assert confirm["Location"] == reverse("eval_suite_detail", args=[suite.code])
    assert suite.cases.count() == 30
    again = client.post(reverse("eval_import_confirm"), {"token": token}, follow=True)
    assert "Nothing imported: this preview was imported already" in again.content.decode()
    assert Suite.objects.count() == 1 and Case.objects.count() == 30


def test_problems_are_shown_and_nothing_can_be_confirmed(client_for, feature):
    client = client_for("release")
    response = preview(client, feature, "broken", main="bad-regex.yaml")
    html = response.content.decode()
    assert "Nothing can be imported" in html
    assert "assert[1].value: not a valid regular expression" in html
    assert reverse("eval_import_confirm") not in html and response.context["token"] == ""
    assert client.post(reverse("eval_import_confirm"), {"token": ""}).status_code == 302
    assert not Suite.objects.exists()


def test_a_token_from_another_preview_is_refused(client_for, feature):
    client = client_for("release")
    preview(client, feature, "summarize")
    client.post(reverse("eval_import_confirm"), {"token": "not-the-token"})
    assert not Suite.objects.exists()


def test_uploaded_text_is_escaped(client_for, feature):
    config = (
        b'description: "<script>alert(1)</script>"\n'
        b'prompts: ["Reply: {{q}}"]\n'
        b'tests:\n  - description: "<img src=x onerror=alert(2)>"\n    vars: {q: hi}\n'
    )
    files = [SimpleUploadedFile("promptfooconfig.yaml", config)]
    response = client_for("release").post(URL, {"feature": feature.key, "files": files})
    html = response.content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


def test_no_files_is_a_form_error(client_for, feature):
    response = client_for("release").post(URL, {"feature": feature.key})
    assert "Choose the files to import" in response.content.decode()


def test_a_preview_expires_after_a_day(client_for, feature):
    client = client_for("release")
    with time_machine.travel("2025-03-01 09:00", tick=False):
        token = preview(client, feature, "summarize").context["token"]
    with time_machine.travel("2025-03-02 09:01", tick=False):
        response = client.post(reverse("eval_import_confirm"), {"token": token}, follow=True)
    assert "expired" in response.content.decode()
    assert not Suite.objects.exists()
