"""The kernel (``waybill_console/``) imports no app: the apps register with it.

Every module of the kernel is parsed (settings, urls, the WSGI/ASGI/Celery entry points,
``fresh_runtime.py``, management commands and migrations excepted: they assemble the
project) and any import of an app fails the test, at the top of a module, inside a
function or under ``TYPE_CHECKING``, as a statement, through ``import_module`` /
``import_string`` / ``__import__``, or as a dotted path to an app's module in a string.
What the kernel calls back (job handlers, the memberships of a session, the API token
lookup) is registered by the owning app in its ``AppConfig.ready()``; something never
registered is a clear ImproperlyConfigured error, never a silent gap."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils.module_loading import import_string

from shops import selectors as shop_selectors
from shops import services as shop_services
from tests.conftest import main_actor, make_shop, make_user
from waybill_console import api_tokens, jobs, tenancy
from waybill_console import permissions as perms
from waybill_console.models import Job

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "waybill_console"
#: the project's own apps, as installed (an app added later is covered without an edit)
APPS = tuple(
    app
    for app in settings.INSTALLED_APPS
    if app != KERNEL.name and "." not in app and (ROOT / app / "apps.py").exists()
)
#: the files that assemble the project and may name apps
ENTRY_POINTS = {"urls.py", "wsgi.py", "asgi.py", "celery.py", "fresh_runtime.py"}
EXCLUDED_DIRS = {"management", "migrations"}
IMPORT_CALLS = {"import_module", "import_string", "__import__"}
DOTTED_APP_PATH = re.compile(rf"(?:{'|'.join(APPS)})(?:\.\w+){{2,}}")

#: every job kind in use, with the handler that runs it and the permission that sees it
EXPECTED_KINDS = {
    "order_export": ("shops.services.exports.order_export_run", perms.EXPORT),
    "order_import": ("shops.services.imports.order_import_run", perms.ORDER_MANAGE),
    "waybill_batch": ("waybills.services.jobs.waybill_batch_run", perms.WAYBILL_ALLOCATE),
    "allocate_print": ("printing.allocate_print.allocate_print_run", perms.WAYBILL_ALLOCATE),
    "reconciliation": ("waybills.services.jobs.reconciliation_run", perms.EXPORT),
    "dropship_statement": ("dropship.services.statements.statement_run", perms.DROPSHIP_MANAGE),
}


def _is_app(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in APPS


def app_imports(source: str) -> list[str]:
    """Every place ``source`` imports an app: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in IMPORT_CALLS and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if DOTTED_APP_PATH.fullmatch(node.value):
                names = [node.value]
        found += [f"{node.lineno}: {name}" for name in names if _is_app(name)]
    return sorted(set(found), key=lambda hit: (int(hit.split(":")[0]), hit))


def kernel_modules() -> list[Path]:
    modules = []
    for path in sorted(KERNEL.rglob("*.py")):
        relative = path.relative_to(KERNEL)
        if EXCLUDED_DIRS & set(relative.parts[:-1]):
            continue
        if path.name in ENTRY_POINTS or path.name.startswith("settings"):
            continue
        modules.append(path)
    return modules


def test_the_kernel_imports_no_app():
    # every app of the project is watched, the webhooks' too (taken from INSTALLED_APPS)
    assert set(APPS) == {"shops", "carriers", "waybills", "dropship", "printing", "events"}
    modules = kernel_modules()
    names = {str(p.relative_to(KERNEL)) for p in modules}
    assert {"jobs.py", "tenancy.py", "api_tokens.py", "permissions.py", "models.py"} <= names
    assert not names & {"settings.py", "settings_test.py", "urls.py", "celery.py"}
    offending = {
        str(path.relative_to(ROOT)): hits
        for path in modules
        if (hits := app_imports(path.read_text(encoding="utf-8")))
    }
    assert offending == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import shops.models", ["1: shops.models"]),
        ("from carriers import models", ["1: carriers"]),
        ("def f():\n    from waybills.selectors import x", ["2: waybills.selectors"]),
        ("if TYPE_CHECKING:\n    from dropship.models import A", ["2: dropship.models"]),
        ("import_string('printing.services.job_run')", ["1: printing.services.job_run"]),
        ("importlib.import_module('shops.selectors')", ["1: shops.selectors"]),
        ("__import__('carriers')", ["1: carriers"]),
        ("K = {'a': 'shops.services.exports.run'}", ["1: shops.services.exports.run"]),
        ("from waybill_console import jobs\nFK = 'shops.Shop'\nP = 'dropship.manage'", []),
        ('import shopsy\nfrom .shops import x\n"""Reads shops.services.x, then."""', []),
    ],
)
def test_the_import_check_sees_every_form_of_import(source, expected):
    assert app_imports(source) == expected


def kinds_in_use() -> set[str]:
    """The ``kind=`` of every ``job_create(...)`` call in the apps."""
    kinds = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called != "job_create":
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "kind" and isinstance(keyword.value, ast.Constant):
                        kinds.add(keyword.value.value)
    return kinds


def test_every_job_kind_in_use_is_registered_with_its_handler_and_permission():
    assert kinds_in_use() == set(EXPECTED_KINDS)
    registered = {kind: (k.handler, k.permission) for kind, k in jobs.KINDS.items()}
    assert registered == {
        kind: (import_string(handler), permission)
        for kind, (handler, permission) in EXPECTED_KINDS.items()
    }


def test_the_shops_app_registers_memberships_and_the_token_lookup():
    assert tenancy._memberships == {
        "for_session": shop_selectors.membership_for_session,
        "list_for_user": shop_selectors.membership_list_for_user,
    }
    assert api_tokens._lookup == {"by_digest": shop_selectors.api_token_get_by_digest}


@pytest.fixture
def kinds(monkeypatch) -> dict:
    """A copy of the registry of job kinds, put back after the test."""
    monkeypatch.setattr(jobs, "KINDS", dict(jobs.KINDS))
    return jobs.KINDS


def test_a_kind_registered_again_with_another_handler_or_permission_is_refused(kinds):
    before = dict(kinds)
    handler = kinds["order_export"].handler
    jobs.register_kind("order_export", handler, perms.EXPORT)  # ready() twice: harmless
    with pytest.raises(ImproperlyConfigured, match="job kind 'order_export' is registered twice"):
        jobs.register_kind("order_export", kinds["order_import"].handler, perms.EXPORT)
    with pytest.raises(ImproperlyConfigured, match="job kind 'order_export' is registered twice"):
        jobs.register_kind("order_export", handler, perms.ORDER_MANAGE)
    with pytest.raises(ImproperlyConfigured, match="unknown permission 'export.all'"):
        jobs.register_kind("order_archive", handler, "export.all")
    assert kinds == before


@pytest.mark.django_db
def test_a_job_of_a_kind_nobody_registered_is_refused_before_it_is_recorded(kinds):
    shop = make_shop("170001", user=make_user("kernel-owner"))
    del kinds["order_export"]
    with pytest.raises(ImproperlyConfigured, match="job kind 'order_export' was never registered"):
        jobs.job_create(actor=main_actor(shop), kind="order_export", params={})
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_job_run_of_a_kind_nobody_registered_says_so(kinds):
    shop = make_shop("170002", user=make_user("kernel-runner"))
    job = Job.objects.create(shop=shop, kind="order_archive", params={})
    with pytest.raises(ImproperlyConfigured, match="job kind 'order_archive' was never registered"):
        jobs.job_run(job_id=job.pk)
    assert list(Job.objects.values_list("pk", "kind", "result", "error")) == [
        (job.pk, "order_archive", {}, None)
    ]


@pytest.mark.django_db
def test_a_session_without_the_membership_lookup_says_so(monkeypatch):
    shop = make_shop("170003", user=make_user("kernel-session"))
    browser = Client()
    browser.force_login(shop.memberships.get().user)
    assert browser.get("/console/").status_code == 200  # registered: the page works
    monkeypatch.setattr(tenancy, "_memberships", {})
    with pytest.raises(ImproperlyConfigured, match="membership lookup 'for_session' was never"):
        browser.get("/console/")


@pytest.mark.django_db
def test_an_api_token_without_the_token_lookup_says_so(monkeypatch):
    shop = make_shop("170004", user=make_user("kernel-token"))
    _, key = shop_services.api_token_create(shop=shop, scopes=[perms.EXPORT])
    token, _ = api_tokens.token_for_key(key)
    assert token.shop_id == shop.pk
    monkeypatch.setattr(api_tokens, "_lookup", {})
    monkeypatch.setattr(api_tokens, "_entries", {})
    with pytest.raises(ImproperlyConfigured, match="API token lookup 'by_digest' was never"):
        api_tokens.token_for_key(key)
