"""Every console and factory page, in Chinese and in English, read as a person reads it.

The demo merchant (and the demo factory for the factory portal) is seeded with orders,
waybill numbers taken, printed, reprinted, cancelled and shipped, a dropship binding and a
handed-over order, jobs, printers, agents, label templates, an allocation exception and a
statement. Every route of the ``console`` and ``factory`` namespaces is opened with the
ids of those objects (what only takes POST, file downloads and JSON fragments are left
out), then a few forms are posted wrong to see their refusals, and the admin is opened.

The visible text (tags, scripts and styles stripped; titles and placeholders kept) must
carry no internal names: no field keys (``receiver.phone``), no upper-snake error codes,
no permission keys (``waybill.allocate``), no ``user:``/``token#``/``branch:`` actor
strings, no event kinds (``picked_up``). In Chinese it must carry no run of three or more
English words and no lone lowercase English word (``created demo``, ``system``) except
the few names in :data:`ALLOWED_ENGLISH`, and no half-width punctuation next to Chinese.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from carriers.models import Subscription
from dropship.models import Allocation, FactoryOrder, Statement
from dropship.services import allocation as dropship_allocation
from dropship.services import identity
from dropship.services.statements import statement_start
from printing import agents, allocate_print, printers
from printing.print_jobs import print_job_create
from printing.services import labels_pdf, template_create
from shops import services as shop_services
from shops.models import ApiToken, Membership, Shop
from shops.services.exports import order_export_start
from tests.conftest import main_actor, make_order
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor
from waybills.models import AllocationException, Waybill
from waybills.services import waybill_allocate, waybill_cancel
from waybills.services.allocation import exception_record
from waybills.services.jobs import waybill_batch_start
from waybills.services.shipping import waybill_ship

pytestmark = pytest.mark.django_db

LANGUAGES = ("zh-hans", "en")
#: English a Chinese page may show: the product's name, file formats, units, the logins
#: and data of the seeded shops (usernames are what people type to log in)
ALLOWED_ENGLISH = (
    "Waybill Console",
    "ESC/POS",
    "TSPL",
    "ZPL",
    "Xprinter XP-420B",
    "usb://VID:PID",
    "Windows",
    "EMS",
    "English",  # the language switch, in its own language
    "Control",  # keys named by Django's admin: 按住 Control 键，或者 Mac 上的 Command 键
    "Mac",
    "Command",
    "merchant",
    "factory",
    "packer",
    "admin",
    "ops",
)
UNITS = {"mm", "cm", "ml", "kg", "pt", "dpi", "px", "g"}

ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,.:;/()&]+[A-Za-z][A-Za-z'’-]*){2,}")
LOWER_WORD = re.compile(r"(?<![A-Za-z0-9_.:/@#-])[a-z]{2,}(?![A-Za-z0-9_:/@-])")
CAPITAL_WORD = re.compile(r"(?<![A-Za-z0-9_.:/@#-])[A-Z][a-z]{2,}(?![A-Za-z0-9_:/@-])")
UPPER_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
FIELD_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\[\d+\])?\.[a-z][a-z0-9_]*\b")
ACTOR_STRING = re.compile(r"\b(?:user|branch):[\w-]|token#\d")
#: dotted words that are not keys: file names and formats
FILE_NAME = re.compile(r"\.(?:csv|xlsx|pdf|png|svg|ico|txt|com|cn|js|css|html)\b")
CJK = "\u3400-\u9fff\u3000-\u303f\uff00-\uffef\u2018-\u201d"
#: half-width punctuation between Chinese (a space either side aside): 发货地址: 浙江
HALF_WIDTH = re.compile(rf"[{CJK}] ?[,;:!?()] ?[{CJK}]")


class _Text(HTMLParser):
    """The text a person reads: no tags, no script or style bodies; titles, placeholders
    and labels read aloud are kept."""

    SKIP = {"script", "style", "template"}
    #: elements that do not break a line: no space is read after them
    INLINE = {"span", "strong", "em", "b", "i", "small", "code", "abbr", "time", "sup", "sub"}

    def __init__(self, skip=(), attributes=True):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self.SKIP = self.SKIP | set(skip)
        self.attributes = attributes

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        for name, value in attrs if self.attributes else ():
            if name in ("placeholder", "title", "aria-label", "hx-confirm") and value:
                self.parts.append(f" {value} ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag not in self.INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(html: str, *, skip=(), attributes=True) -> str:
    """The page's text; ``skip``: more elements whose content is not read (the admin's
    JSON fields are data, in ``<textarea>``); ``attributes=False``: without the titles and
    placeholders (examples of what to type)."""
    parser = _Text(skip, attributes)
    parser.feed(html)
    return re.sub(r"\s+", " ", "".join(parser.parts))


def problems(text: str, language: str) -> list[str]:
    """What in ``text`` is an internal name, or (in Chinese) English or half-width."""
    found = [f"permission key {k!r}" for k in perms.LABELS if "." in k and k in text]
    found += [f"code {m!r}" for m in UPPER_SNAKE.findall(text)]
    found += [f"key {m!r}" for m in SNAKE.findall(text)]
    found += [
        f"field key {m.group(0)!r}"
        for m in FIELD_KEY.finditer(text)
        if not FILE_NAME.match(text, m.start() + m.group(0).index("."))
        and m.group(0) not in perms.LABELS
        and m.group(0) not in ("e.g", "i.e")
    ]
    found += [f"actor string {m.group(0)!r}" for m in ACTOR_STRING.finditer(text)]
    if language == "zh-hans":
        rest = text
        for allowed in ALLOWED_ENGLISH:
            rest = rest.replace(allowed, " ")
        found += [f"English {m.group(0)!r}" for m in ENGLISH_RUN.finditer(rest)]
        found += [
            f"English word {m.group(0)!r}"
            for m in LOWER_WORD.finditer(rest)
            if m.group(0) not in UNITS
        ]
        found += [f"English word {m.group(0)!r}" for m in CAPITAL_WORD.finditer(rest)]
        found += [
            f"half-width {text[max(m.start() - 6, 0) : m.end() + 6]!r}"
            for m in HALF_WIDTH.finditer(text)
        ]
    return found


def carrier_codes() -> re.Pattern:
    """A carrier's code followed by a number, as a list would show a tracking number (EMS
    is its own name)."""
    from django.db.models import F

    from carriers.models import Carrier

    codes = Carrier.objects.exclude(name=F("code")).values_list("code", flat=True)
    codes = "|".join(sorted(codes, key=len, reverse=True))
    return re.compile(rf"\b(?:{codes}) \d{{6,}}")


def _routes(namespace: str) -> list[tuple[str, list[str]]]:
    """(url name, its keyword names) of every route of a namespace, from the resolver."""
    out = []

    def walk(patterns, ns):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, p.namespace or ns)
            elif isinstance(p, URLPattern) and ns == namespace and p.name:
                out.append((p.name, list(p.pattern.converters)))

    walk(get_resolver().url_patterns, None)
    return out


@pytest.fixture
def seeded(db) -> dict:
    """The demo shops with something on every page; the ids the routes take."""
    call_command("seed_demo", "--quiet", "--orders", "12", "--waybills")
    merchant = Shop.objects.get(shop_no="100001")
    factory = Shop.objects.get(shop_no="200001")
    actor = main_actor(merchant)
    membership = actor.membership
    membership.display_name = "王经理"
    membership.save(update_fields=["display_name"])
    actor = main_actor(merchant)

    # an order through its whole life: numbered, printed, reprinted, shipped; a token
    # marks it ready (named in the history by the token's name)
    order = make_order(merchant, "WALK-1")
    number = waybill_allocate(actor=actor, order=order, carrier="ZTO").parent
    labels_pdf(actor=actor, waybills=[number])
    labels_pdf(actor=actor, waybills=[Waybill.objects.get(pk=number.pk)])
    token, _key = shop_services.api_token_create(shop=merchant, name="ERP 同步")
    token_actor = Actor(shop=merchant, token=token, permissions=frozenset(perms.ALL))
    shop_services.order_mark_ready(actor=token_actor, order=order)
    waybill_ship(actor=actor, order=order, waybill_no=number.waybill_no)
    # a number taken and cancelled
    spoiled = make_order(merchant, "WALK-2")
    waybill_cancel(
        actor=actor, waybill=waybill_allocate(actor=actor, order=spoiled, carrier="ZTO").parent
    )
    # an allocation exception
    failed = make_order(merchant, "WALK-3", receiver={"name": "李四", "phone": "13900000000",
                        "province": "浙江省", "city": "杭州市", "district": "西湖区",
                        "detail": "文三路 1 号"})  # fmt: skip
    exception_record(order=failed, error=AppError("获取单号失败"), carrier="ZTO")

    # dropship: bound, an order handed over, a statement each way
    binding = identity.binding_request(actor=actor, factory_shop_no="200001")
    identity.binding_confirm(actor=main_actor(factory), binding_id=binding.pk)
    handed = make_order(merchant, "WALK-DS-1")
    dropship_allocation.allocation_create(actor=actor, factory="200001", orders=[handed.pk])
    today = timezone.localdate()
    statement_start(
        actor=actor, counterpart="200001", date_from=today - timedelta(days=7), date_to=today
    )

    # printing: a template, an agent, a printer, a job; an export job
    template = template_create(
        actor=actor, data={"carrier": "ZTO", "size": "100x150", "name": "中通标准"}
    )
    agent, _agent_key = agents.agent_create(actor=actor, name="打包台电脑")
    printer = printers.printer_create(
        actor=actor,
        data={"name": "打包台打印机", "kind": "zpl", "connection": "agent", "agent": agent.pk,
              "agent_target": "usb://0416:5011"},
    )  # fmt: skip
    print_job = print_job_create(actor=actor, printer=printer, waybill_ids=[number.pk])
    job = order_export_start(actor=actor, params={}, file_format="csv")
    paid = [make_order(merchant, f"WALK-B{i}").pk for i in (1, 2)]
    batch = waybill_batch_start(actor=actor, order_ids=paid, carrier="ZTO")
    print_batch = allocate_print.allocate_print_batch_start(
        actor=actor, order_ids=paid, carrier="ZTO", target=allocate_print.PDF
    )
    # webhooks: an endpoint with a delivery sent twice (推送设置)
    from events.services.endpoints import endpoint_create, endpoint_send_test

    endpoint, _secret = endpoint_create(
        actor=actor, url="https://93.184.216.34/hooks", event_types=["quota.low"]
    )
    delivery = endpoint_send_test(actor=actor, endpoint_id=endpoint.pk)
    delivery.attempt_log.create(at=timezone.now(), status_code=500, error="HTTP 500")
    delivery.attempt_log.create(at=timezone.now(), status_code=200, manual=True)
    return {
        "order": order,
        "ids": {
            "order_id": order.pk,
            "job_id": job.pk,
            "membership_id": Membership.objects.get(shop=merchant, role="sub").pk,
            "address_id": merchant.addresses.first().pk,
            "subscription_id": Subscription.objects.filter(shop=merchant).first().pk,
            "exception_id": AllocationException.objects.get(order=failed).pk,
            "template_id": template.pk,
            "printer_id": printer.pk,
            "agent_id": agent.pk,
            "binding_id": binding.pk,
            "factory_order_id": FactoryOrder.objects.get(order=handed).pk,
            "allocation_id": Allocation.objects.filter(merchant=merchant).first().pk,
            "statement_id": Statement.objects.first().pk,
            "waybill_no": number.waybill_no,
            "endpoint_id": endpoint.pk,
            "delivery_id": delivery.pk,
            "action": "walk",
        },
        # routes whose ``job_id`` is another kind of job than the export's
        "jobs": {
            "waybill_batch_progress": batch.pk,
            "allocate_print_progress": print_batch.pk,
            "print_job_detail": print_job.pk,
            "print_job_retry": print_job.pk,
        },
    }


def _walk(client, namespace: str, ids: dict, jobs: dict, language: str) -> dict[str, list[str]]:
    """GET every route of the namespace; the problems of each page (and its status when it
    is not a page: an error there is a finding too)."""
    client.cookies["django_language"] = language
    report = {}
    for name, kwargs in _routes(namespace):
        if "download" in name:
            continue  # a file
        values = {k: ids[k] for k in kwargs}
        if name in jobs:
            values["job_id"] = jobs[name]
        url = reverse(f"{namespace}:{name}", kwargs=values)
        response = client.get(url)
        if response.status_code in (302, 405):  # POST only, or a redirect to a page walked
            continue
        if not response.get("Content-Type", "").startswith("text/html"):
            continue  # a download, an image, a JSON fragment
        html = response.content.decode()
        found = problems(page_text(html), language)
        found += [  # a carrier by its name, never by its code: 中通快递 7300…, not ZTO 7300…
            f"carrier code {m.group(0)!r}"
            for m in carrier_codes().finditer(page_text(html, attributes=False))
        ]
        if response.status_code != 200:
            found.insert(0, f"status {response.status_code}")
        if found:
            report[f"{language} {url}"] = found
    return report


def _report(report: dict) -> str:
    return "\n".join(f"{url}: {found}" for url, found in report.items())


def test_every_page_reads_without_internal_names_in_both_languages(client, seeded):
    ids, jobs = seeded["ids"], seeded["jobs"]
    report = {}
    for language in LANGUAGES:
        client.logout()
        client.cookies["django_language"] = language
        login = client.get(reverse("login"))
        report |= {
            f"{language} login": found
            for found in [problems(page_text(login.content.decode()), language)]
            if found
        }
        client.login(username="merchant", password="waybill-demo")
        report |= _walk(client, "console", ids, jobs, language)
        client.logout()
        client.login(username="factory", password="waybill-demo")
        report |= _walk(client, "factory", ids, jobs, language)
    assert not report, _report(report)


def _form_pages(client, seeded, language: str) -> dict[str, str]:
    """Forms posted wrong, and the page each answers with."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.cookies["django_language"] = language
    merchant = Shop.objects.get(shop_no="100001")
    address = merchant.addresses.first()
    wizard = client.post(
        reverse("console:subscription_apply"),
        {"carrier": "ZTO", "address": address.pk, "branch": "331001", "contact_name": "王主管",
         "contact_phone": "13800571000"},
    )  # fmt: skip
    csv = "订单号,SKU,商品名称,数量,单价,收件人,手机号,省,市,区,详细地址\n".encode()
    csv += "IMP-1,SKU-1,保温杯,1,9.9,张三,12345,浙江省,杭州市,西湖区,文三路 1 号\n".encode()
    upload = SimpleUploadedFile("orders.csv", csv, content_type="text/csv")
    imported = client.post(reverse("console:order_import"), {"file": upload})
    address_form = client.post(
        reverse("console:address_list"),
        {"contact_name": "王", "phone": "123", "province": "火星省", "detail": "1 号"},
    )
    bad_filter = client.get(reverse("console:order_list"), {"status": "nope", "after_sale": "x"})
    printer_form = client.post(
        reverse("console:printer_create"), {"name": "", "kind": "zpl", "connection": "network"}
    )
    return {
        "wizard": wizard,
        "import": imported,
        "address": address_form,
        "order filter": bad_filter,
        "printer": printer_form,
    }


def test_refused_forms_name_fields_by_label_never_by_key(client, seeded):
    client.login(username="merchant", password="waybill-demo")
    report = {}
    texts = {}
    for language in LANGUAGES:
        for name, response in _form_pages(client, seeded, language).items():
            assert response.status_code in (200, 400, 409, 422), (name, response.status_code)
            text = page_text(response.content.decode())
            texts[language, name] = text
            if found := problems(text, language):
                report[f"{language} {name}"] = found
    assert not report, _report(report)
    # each refusal names its field by the label the form shows, in the page's language
    assert "电子面单服务协议：必须阅读并同意电子面单服务协议。" in texts["zh-hans", "wizard"]
    assert (
        "E-waybill service agreement: The e-waybill service agreement must be accepted."
        in (texts["en", "wizard"])
    )
    assert "手机号 不是有效的手机号或固定电话号码。" in texts["zh-hans", "import"]
    assert "Not a valid mobile or landline number." in texts["en", "import"]
    assert "省：不是行政区划中的省份。" in texts["zh-hans", "address"]
    assert (
        "电话：不是有效的手机号（11 位）或固定电话（0xx-xxxxxxxx）。" in texts["zh-hans", "address"]
    )


def test_agreement_is_a_link_to_its_text(client, seeded):
    client.login(username="merchant", password="waybill-demo")
    address = Shop.objects.get(shop_no="100001").addresses.first()
    html = client.get(
        reverse("console:subscription_apply"), {"carrier": "ZTO", "address": address.pk}
    ).content.decode()
    link = re.search(r'<a href="([^"]+)"[^>]*data-testid="agreement-link">([^<]+)</a>', html)
    assert link and link[2] == "《电子面单服务协议》"
    text = page_text(client.get(link[1]).content.decode())
    assert "电子面单服务协议" in text and "不得超过取号总数的 20%" in text
    client.cookies["django_language"] = "en"
    text = page_text(client.get(link[1]).content.decode())
    assert "may not exceed 20% of those taken" in text


def test_order_history_says_who_did_what_by_name(client, seeded):
    client.login(username="merchant", password="waybill-demo")
    order = seeded["order"]
    number = Waybill.objects.get(order=order).waybill_no
    html = client.get(reverse("console:order_detail", args=[order.pk])).content.decode()
    history = page_text(re.search(r'data-testid="order-history">(.*?)</ol>', html, re.S)[1])
    lines = [line.split(" ", 2)[2].strip() for line in re.split(r" (?=\d{4}-\d\d-\d\d )", history)]
    assert lines == [
        "王经理 订单已创建",
        f"王经理 取号 中通快递 {number}",
        f"王经理 打印面单 中通快递 {number}",
        f"王经理 重打面单 中通快递 {number}",
        "ERP 同步 标记为待揽收",
        f"王经理 发货 中通快递 {number}",
        f"王经理 重打面单 中通快递 {number}",  # the print job sent to the packing printer
    ], history
    token_id = ApiToken.objects.get(name="ERP 同步").pk
    assert f"token#{token_id}" not in html and "user:merchant" not in html


#: in the admin, what ops read as data: codes, keys and JSON (read-only JSON fields too)
ADMIN_DATA = ("half-width", "code", "key")
JSON_READONLY = re.compile(r'<div class="readonly">\s*[\[{].*?</div>', re.S)


def test_admin_pages_are_translated(admin_client, seeded):
    """Every model the ops admin shows: its list, its add form and one of its rows, in
    Chinese: models, fields, actions by their names (Django's own auth pages aside: its
    permission names are English rows in the database). Django's admin templates put
    half-width brackets around Chinese (``(显示全部)``), so only English and internal names
    are looked for here."""
    admin_client.cookies["django_language"] = "zh-hans"
    report = {}
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label in ("auth", "contenttypes", "sessions"):
            continue
        name = f"admin:{meta.app_label}_{meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        if first := model.objects.order_by("pk").first():
            urls.append(reverse(f"{name}_change", args=[first.pk]))
    for url in urls:
        response = admin_client.get(url)
        if response.status_code == 403:  # a model ops cannot add by hand (ledgers, logs)
            continue
        html = JSON_READONLY.sub("", response.content.decode())
        text = page_text(html, skip={"textarea"})
        found = [p for p in problems(text, "zh-hans") if not p.startswith(ADMIN_DATA)]
        if response.status_code != 200 or found:
            report[url] = [f"status {response.status_code}", *found]
    assert not report, _report(report)


PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|http\(s\)|[a-z]+://\S*|\w+:\d+")


def test_chinese_translations_use_full_width_punctuation():
    """Every Chinese msgstr: no half-width , ; : ! ? ( ) next to Chinese characters
    (placeholders, addresses such as tcp://主机:9100 and clock times aside)."""
    text = PO.read_text(encoding="utf-8")
    bad = []
    for msgstr in re.findall(r'\nmsgstr ((?:".*"\n?)+)', text):
        value = "".join(re.findall(r'"(.*)"', msgstr))
        if not re.search(f"[{CJK}]", value):
            continue
        plain = PLACEHOLDER.sub("X", value)
        if re.search(rf"[{CJK}] ?[,;:!?()]|[,;:!?()] ?[{CJK}]", plain):
            bad.append(value)
    assert not bad, "\n".join(bad)
