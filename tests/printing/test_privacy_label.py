"""隐私面单 and the carrier's label data.

A privacy template prints the receiver's name and phone as the waybill's stored masks and
decrypts only the street (its audit row says so); off, the label prints them in full. New
templates (the API, the designer's create form) are privacy labels, the templates saved
before the option existed are not (the migration), and neither is the built-in layout.
What the carrier returned (``Waybill.print_data``) is what the label prints: its QR
content (SF's 丰密 code) scans back from every output format, its route code and coding
mapping take the sort band, its product name the service marks."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from carriers.models import Carrier
from printing import layout as L
from printing import services as print_services
from printing.models import LabelTemplate
from printing.services import template_create
from tests.conftest import main_actor, make_order, token_client
from tests.printing.decode import DECODERS, scan
from tests.waybills.conftest import open_service
from waybill_console.crypto import mask_name, mask_phone
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

NAME, PHONE, STREET = "欧阳娜娜", "13912345678", "文三路 90 号 3 幢 501"
#: SF's 丰密 two-dimension code as its create-order answer carries it (twoDimensionCode)
FENGMI = (
    "MMM={'k1':'755WE','k2':'020W','k3':'','k4':'T4','k5':'SF1011717445513','k6':'',"
    "'k7':'c6a1f0e2'}"
)
TEMPLATES = "/api/v1/templates/"


def draw(shop, **print_data) -> Waybill:
    sub = open_service(shop, "ZTO", balance=10)
    order = make_order(shop, name=NAME, phone=PHONE)
    waybill = waybill_allocate(actor=main_actor(shop), order=order, subscription=sub).parent
    if print_data:  # what a carrier adapter stored at allocation
        Waybill.objects.filter(pk=waybill.pk).update(print_data=print_data)
    return Waybill.objects.get(pk=waybill.pk)


def make_template(shop, name="隐私模板", **data) -> LabelTemplate:
    return template_create(
        actor=main_actor(shop), data={"carrier": "ZTO", "size": "100x150", "name": name, **data}
    )


def label(shop, waybill: Waybill, template: LabelTemplate) -> L.LabelData:
    return print_services.label_data(actor=main_actor(shop), waybill=waybill, template=template)


def audits(waybill: Waybill) -> list[tuple[str, list[str]]]:
    rows = DecryptionAudit.objects.filter(model="waybills.Waybill", object_pk=str(waybill.pk))
    return [(a.purpose, a.fields) for a in rows.order_by("pk")]


def label_url(waybill: Waybill, template: LabelTemplate | None = None, fmt: str = "png") -> str:
    url = f"/api/v1/waybills/{waybill.waybill_no}/label/?format={fmt}"
    return url + (f"&template={template.pk}" if template else "")


# --- the privacy label --------------------------------------------------------------------


def test_a_privacy_label_prints_the_masks_and_decrypts_only_the_street(shop_a):
    waybill = draw(shop_a)
    template = make_template(shop_a)
    assert template.privacy is True

    data = label(shop_a, waybill, template)

    assert mask_name(NAME) == "欧***" and mask_phone(PHONE) == "139****5678"
    assert data.receiver_line == "欧*** 139****5678"
    assert data.receiver_address == f"浙江省杭州市西湖区{STREET}"  # the courier needs it
    printed = json.dumps(data.as_dict(), ensure_ascii=False)
    assert PHONE not in printed and NAME not in printed
    assert audits(waybill) == [("print_label", ["receiver_detail"])]


def test_privacy_off_prints_the_receiver_in_full_audited(shop_a):
    waybill = draw(shop_a)
    template = make_template(shop_a, name="完整模板", privacy=False)

    data = label(shop_a, waybill, template)

    assert data.receiver_line == f"{NAME} {PHONE}"
    assert data.receiver_address == f"浙江省杭州市西湖区{STREET}"
    assert audits(waybill) == [
        ("print_label", ["receiver_name", "receiver_phone", "receiver_detail"])
    ]


def test_the_label_api_with_a_privacy_template_audits_the_street_alone(shop_a):
    waybill = draw(shop_a)
    template = make_template(shop_a)
    client = token_client(shop_a)

    assert client.get(label_url(waybill, template, "pdf")).status_code == 200
    assert client.get(label_url(waybill, template, "escpos")).status_code == 200

    assert audits(waybill) == [("print_label", ["receiver_detail"])] * 2


def test_the_built_in_layout_of_a_shop_without_templates_is_not_a_privacy_label(shop_a):
    waybill = draw(shop_a)
    builtin = print_services.template_for(shop=shop_a, carrier=waybill.carrier)

    assert builtin.pk is None and builtin.privacy is False
    assert label(shop_a, waybill, builtin).receiver_line == f"{NAME} {PHONE}"


# --- the carrier's data on the label ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "pdf", "escpos", "tspl", "zpl"])
def test_the_qr_code_scans_back_to_the_carriers_payload(shop_a, fmt):
    waybill = draw(shop_a, qr=FENGMI)
    template = make_template(shop_a)

    response = token_client(shop_a).get(label_url(waybill, template, fmt))

    assert response.status_code == 200
    found = scan(DECODERS[fmt](response.content))
    assert ("QRCode", FENGMI) in found, found
    assert ("Code128", waybill.waybill_no) in found
    assert ("QRCode", waybill.order.order_no) not in found


def test_without_a_carrier_payload_the_qr_code_is_the_order_number(shop_a):
    waybill = draw(shop_a)
    template = make_template(shop_a)

    response = token_client(shop_a).get(label_url(waybill, template))

    assert response.status_code == 200
    qr = [text for kind, text in scan(DECODERS["png"](response.content)) if kind == "QRCode"]
    assert qr == [waybill.order.order_no]


def test_the_carriers_route_code_and_coding_mapping_take_the_sort_band(shop_a):
    template = make_template(shop_a)
    both = draw(shop_a, route_code="020W-Z069-006", coding_mapping="H7", pro_name="顺丰标快")
    mapping_only = draw(shop_a, coding_mapping="H7")
    assert both.sort_code and both.services == ["standard"]

    data = label(shop_a, both, template)
    assert data.sort_code == "020W-Z069-006 H7"
    assert data.service_marks == "顺丰标快"  # the carrier's product name, not our 标快
    assert label(shop_a, mapping_only, template).sort_code == f"{mapping_only.sort_code} H7"


def test_without_carrier_data_or_with_unusable_values_the_label_is_as_before(shop_a):
    template = make_template(shop_a)
    plain = draw(shop_a)
    odd = draw(shop_a, qr={"k1": "755WE"}, route_code=None, coding_mapping=True, pro_name="")

    for waybill in (plain, odd):
        data = label(shop_a, waybill, template)
        assert data.sort_code == waybill.sort_code
        assert data.qr_code == waybill.order.order_no
        assert data.service_marks == "标快"


# --- new templates are privacy labels; older ones are not ------------------------------------


def test_a_template_created_through_the_api_is_a_privacy_label_unless_asked(shop_a):
    client = token_client(shop_a)

    default = client.post(
        TEMPLATES, {"carrier": "ZTO", "size": "100x150", "name": "新模板"}, format="json"
    )
    off = client.post(
        TEMPLATES,
        {"carrier": "ZTO", "size": "76x130", "name": "不隐私", "privacy": False},
        format="json",
    )

    assert default.status_code == off.status_code == 201
    assert default.json()["privacy"] is True and off.json()["privacy"] is False
    assert LabelTemplate.objects.get(pk=default.json()["id"]).privacy is True
    assert LabelTemplate.objects.get(pk=off.json()["id"]).privacy is False
    changed = client.patch(f"{TEMPLATES}{off.json()['id']}/", {"privacy": True}, format="json")
    assert changed.status_code == 200 and changed.json()["privacy"] is True
    assert LabelTemplate.objects.get(pk=off.json()["id"]).privacy is True


def test_privacy_is_a_boolean_in_the_openapi_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    create = schema["paths"]["/api/v1/templates/"]["post"]

    def properties(body: dict) -> dict:
        name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        return schema["components"]["schemas"][name]["properties"]

    assert properties(create["requestBody"])["privacy"]["type"] == "boolean"
    assert properties(create["responses"]["201"])["privacy"]["type"] == "boolean"


@pytest.fixture
def merchant(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    return client


def privacy_box(response) -> str:
    match = re.search(r'<input type="checkbox" name="privacy"[^>]*>', response.content.decode())
    assert match, "no privacy checkbox"
    return match[0]


def test_the_designers_create_form_makes_a_privacy_label_and_the_box_turns_it_off(merchant, shop_a):
    created = merchant.post(
        "/console/label-templates/new/", {"carrier": "ZTO", "size": "100x150", "name": "页面新建"}
    )
    template = LabelTemplate.objects.get(shop=shop_a, name="页面新建")
    assert created.status_code == 302 and template.privacy is True
    designer = f"/console/label-templates/{template.pk}/"
    page = merchant.get(designer)
    assert "checked" in privacy_box(page)
    assert (
        "隐私面单" in page.content.decode() and "收件人姓名、电话打码打印" in page.content.decode()
    )
    listed = merchant.get("/console/label-templates/").content.decode()
    assert listed.count('data-testid="privacy-badge">隐私面单<') == 1

    # the hidden "0" alone: the box was unticked
    saved = merchant.post(f"{designer}save/", {"privacy": "0"}, HTTP_ACCEPT="application/json")
    assert saved.status_code == 200 and saved.json()["template"]["privacy"] is False
    template.refresh_from_db()
    assert template.privacy is False and template.custom_fields == L.default_custom_fields(
        "100x150"
    )
    assert "checked" not in privacy_box(merchant.get(designer))
    listed = merchant.get("/console/label-templates/").content.decode()
    assert 'data-testid="privacy-badge"' not in listed

    merchant.post(f"{designer}save/", {"privacy": ["0", "1"]}, HTTP_ACCEPT="application/json")
    template.refresh_from_db()
    assert template.privacy is True


def test_the_designers_preview_shows_the_receiver_masked_on_a_privacy_label(merchant, shop_a):
    on = make_template(shop_a)
    off = make_template(shop_a, name="完整模板", privacy=False)
    preview = "/console/label-templates/{}/preview.png"

    shown_on = merchant.get(preview.format(on.pk)).content
    shown_off = merchant.get(preview.format(off.pk)).content

    assert shown_on == print_services.template_preview(template=on)
    assert shown_on != shown_off
    assert print_services.sample_data(on).receiver_line == "张* 138****5678"
    # the designer's unsaved draft can turn it off before saving
    draft = merchant.get(
        preview.format(on.pk), {"fields": json.dumps(on.custom_fields), "privacy": "0"}
    )
    assert draft.content == shown_off


def test_the_migration_keeps_existing_templates_off_and_new_ones_default_on(shop_a):
    """Back to the schema before the option, a template saved there, then forward: the
    saved one is off, a template made now is on."""
    before = ("printing", "0002_print_test_page")
    carrier = Carrier.objects.get(code="ZTO")
    executor = MigrationExecutor(connection)
    with connection.cursor() as cursor:  # no pending FK checks on the tables altered
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor.migrate([before])
    try:
        old_apps = executor.loader.project_state([before]).apps
        OldTemplate = old_apps.get_model("printing", "LabelTemplate")
        assert "privacy" not in {f.name for f in OldTemplate._meta.get_fields()}
        saved = OldTemplate.objects.create(
            shop_id=shop_a.pk, carrier_id=carrier.pk, size="100x150", name="旧模板"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("printing"))

    assert LabelTemplate.objects.get(pk=saved.pk).privacy is False
    assert make_template(shop_a).privacy is True
    assert LabelTemplate._meta.get_field("privacy").default is True


def test_each_parcel_of_a_multi_package_order_prints_its_own_carrier_qr(shop_a):
    """SF gives a 丰密 QR per parcel (``qr_by_number``); the order's ``qr`` is the
    fallback for a number without its own."""
    template = make_template(shop_a)
    own = draw(shop_a, qr="ORDER-QR")
    Waybill.objects.filter(pk=own.pk).update(
        print_data={"qr": "ORDER-QR", "qr_by_number": {own.waybill_no: "PARCEL-QR"}}
    )
    own.refresh_from_db()
    assert label(shop_a, own, template).qr_code == "PARCEL-QR"
    other = draw(shop_a, qr="ORDER-QR", qr_by_number={"SF0000000000001": "SOMEONE-ELSES"})
    assert label(shop_a, other, template).qr_code == "ORDER-QR"
