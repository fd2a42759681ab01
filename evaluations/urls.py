from django.urls import path

from .views import export, imports, runs, suites

urlpatterns = [
    path("", suites.suite_list, name="eval_home"),
    path("suites/new/", suites.suite_new, name="eval_suite_new"),
    path("import/", imports.import_upload, name="eval_import"),
    path("import/confirm/", imports.import_confirm, name="eval_import_confirm"),
    path("suites/<uuid:code>/", suites.suite_detail, name="eval_suite_detail"),
    path("suites/<uuid:code>/edit/", suites.suite_edit, name="eval_suite_edit"),
    path("suites/<uuid:code>/run/", suites.run_create, name="eval_run_create"),
    path("suites/<uuid:code>/cases/new/", suites.case_new, name="eval_case_new"),
    path("suites/<uuid:code>/cases.jsonl", export.suite_cases_jsonl, name="eval_suite_cases_jsonl"),
    path("cases/<uuid:code>/edit/", suites.case_edit, name="eval_case_edit"),
    path("cases/<uuid:code>/delete/", suites.case_delete, name="eval_case_delete"),
    path("cases/<uuid:code>/publish/", suites.case_publish, name="eval_case_publish"),
    path("runs/<uuid:code>/", runs.run_detail, name="eval_run_detail"),
    path("runs/<uuid:code>/cancel/", runs.run_cancel_view, name="eval_run_cancel"),
    path("runs/<uuid:code>/export.csv", export.run_export_csv, name="eval_run_export_csv"),
    path("runs/<uuid:code>/export.json", export.run_export_json, name="eval_run_export_json"),
]
