"""The label and template API: ``waybills/{no}/label/`` in every format (content types,
sizes at the dpi, the barcode scanning back, the audited receiver, print counts) and
``templates/`` (create, list, change, default, preview, errors naming the field)."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from printing import layout as L
from printing.models import LabelTemplate
from printing.services import template_create
from tests.conftest import main_actor, make_order, token_client
from tests.waybills.conftest import open_service
from waybill_console.models import DecryptionAudit
from waybills.models import Waybill
from waybills.services import waybill_allocate

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/templates/"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "escpos": "application/octet-stream",
    "tspl": "application/octet-stream",
    "zpl": "application/octet-stream",
}


def px(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def draw(shop, carrier: str = "ZTO", sub=None) -> Waybill:
    sub = sub or open_service(shop, carrier, balance=10)
    order = make_order(shop)
    return waybill_allocate(actor=main_actor(shop), order=order, subscription=sub).parent


def label_url(waybill: Waybill, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/waybills/{waybill.waybill_no}/label/" + (f"?{query}" if query else "")


def png(response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def make_template(shop, carrier="ZTO", size="100x150", name="标准模板", **data):
    return template_create(
        actor=main_actor(shop), data={"carrier": carrier, "size": size, "name": name, **data}
    )


# --- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pdf", "png", "escpos", "tspl", "zpl"])
def test_each_format_answers_its_content_type_with_bytes(shop_a, fmt):
    waybill = draw(shop_a)

    response = token_client(shop_a).get(label_url(waybill, format=fmt))

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    assert len(response.content) > 500
    assert f'filename="{waybill.waybill_no}.{fmt}"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    if fmt == "pdf":
        assert response.content.startswith(b"%PDF")
    if fmt == "png":
        assert response.content.startswith(b"\x89PNG")


def test_pdf_is_the_default_format(shop_a):
    response = token_client(shop_a).get(label_url(draw(shop_a)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(("dpi", "size"), [(203, (799, 1199)), (300, (1181, 1772))])
def test_png_is_the_template_size_at_the_dpi_and_its_barcode_scans_back(shop_a, dpi, size):
    waybill = draw(shop_a)  # no template yet: the built-in 100x150 one

    response = token_client(shop_a).get(label_url(waybill, format="png", dpi=dpi))

    assert response.status_code == 200
    image = png(response)
    assert image.size == size == (px(100, dpi), px(150, dpi))
    codes = [r for r in zxingcpp.read_barcodes(image) if r.format.name == "Code128"]
    assert [r.text for r in codes] == [waybill.waybill_no]


def test_the_chosen_or_default_template_sets_the_size(shop_a):
    waybill = draw(shop_a)
    one_part = make_template(shop_a, size="76x130", name="一联单")  # the first: default
    two_part = make_template(shop_a, size="100x180", name="二联单")
    client = token_client(shop_a)

    default = client.get(label_url(waybill, format="png"))
    chosen = client.get(label_url(waybill, format="png", template=two_part.pk))

    assert png(default).size == (px(76, 203), px(130, 203))
    assert default["X-Label-Template"] == str(one_part.pk)
    assert png(chosen).size == (px(100, 203), px(180, 203))
    assert chosen["X-Label-Template"] == str(two_part.pk)
    assert [r.text for r in zxingcpp.read_barcodes(png(chosen))][:1] == [waybill.waybill_no]


def test_a_label_decrypts_the_receiver_audited_and_pdf_counts_a_print_but_png_not(shop_a):
    waybill = draw(shop_a)
    client = token_client(shop_a)
    before = DecryptionAudit.objects.count()

    assert client.get(label_url(waybill, format="png")).status_code == 200
    assert Waybill.objects.get(pk=waybill.pk).print_count == 0
    audit = DecryptionAudit.objects.order_by("-pk").first()
    assert DecryptionAudit.objects.count() == before + 1
    assert (audit.model, audit.object_pk) == ("waybills.Waybill", str(waybill.pk))
    assert audit.purpose == "print_label" and audit.shop_id == shop_a.pk
    assert set(audit.fields) >= {"receiver_name", "receiver_phone", "receiver_detail"}

    assert client.get(label_url(waybill, format="pdf")).status_code == 200
    assert Waybill.objects.get(pk=waybill.pk).print_count == 1
    assert DecryptionAudit.objects.count() == before + 2
    assert client.get(label_url(waybill, format="zpl")).status_code == 200
    assert Waybill.objects.get(pk=waybill.pk).print_count == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "bmp"}, "format"),
        ({"format": "png", "dpi": 150}, "dpi"),
        ({"format": "png", "dpi": "high"}, "dpi"),
        ({"format": "png", "template": "abc"}, "template"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(shop_a, params, field):
    waybill = draw(shop_a)
    before = DecryptionAudit.objects.count()

    response = token_client(shop_a).get(label_url(waybill, **params))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and field in body["detail"]
    assert DecryptionAudit.objects.count() == before  # nothing decrypted


def test_another_shops_number_is_404_and_its_template_is_refused(shop_a, shop_b):
    theirs = draw(shop_b)
    mine = draw(shop_a)
    their_template = make_template(shop_b, name="B 的模板")
    client = token_client(shop_a)

    assert client.get(label_url(theirs, format="png")).status_code == 404
    assert client.get("/api/v1/waybills/NOSUCH123/label/").status_code == 404
    response = client.get(label_url(mine, format="png", template=their_template.pk))
    assert response.status_code == 400 and "template" in response.json()["detail"]
    assert Waybill.objects.get(pk=theirs.pk).print_count == 0


def test_printing_needs_the_print_permission(shop_a):
    waybill = draw(shop_a)
    client = token_client(shop_a, scopes=["order.manage"])

    response = client.get(label_url(waybill, format="pdf"))

    assert response.status_code == 403
    assert Waybill.objects.get(pk=waybill.pk).print_count == 0


def test_an_order_under_review_does_not_print(shop_a):
    """The order rule's ``print`` purpose: a label goes on a parcel the courier takes away,
    so an order waiting for the answer to its buyer's cancellation request (审核中) does
    not print, as one in after-sale does not (ORDER_BLOCKED, nothing decrypted, no print
    counted)."""
    from shops import services as shop_services

    waybill = draw(shop_a)
    shop_services.order_request_cancel(actor=main_actor(shop_a), order=waybill.order)
    audits = DecryptionAudit.objects.count()

    for fmt in CONTENT_TYPES:
        response = token_client(shop_a).get(label_url(waybill, format=fmt))
        assert response.status_code == 409 and response.json()["code"] == "ORDER_BLOCKED", fmt
        assert response.json()["detail"] == {"cancel_request_status": "pending"}
    assert Waybill.objects.get(pk=waybill.pk).print_count == 0
    assert DecryptionAudit.objects.count() == audits


# --- templates --------------------------------------------------------------------------------


def test_create_list_get_and_change_a_template(shop_a, shop_b):
    client = token_client(shop_a)
    make_template(shop_b, name="B 的模板")

    created = client.post(
        TEMPLATES, {"carrier": "zto", "size": "100x150", "name": "中通 100x150"}, format="json"
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["carrier"] == "ZTO" and body["size"] == "100x150" and body["is_default"] is True
    assert body["custom_fields"] == L.default_custom_fields("100x150")
    assert (body["width_mm"], body["height_mm"]) == (100, 150)
    box = L.build_layout("100x150").custom_box
    assert body["custom_box"] == {k: round(v, 2) for k, v in zip("xywh", box, strict=True)}
    assert body["preview_url"] == f"/api/v1/templates/{body['id']}/preview/"

    listed = client.get(TEMPLATES).json()
    assert [t["name"] for t in listed["results"]] == ["中通 100x150"]  # not shop B's
    assert client.get(TEMPLATES + "?carrier=YTO").json()["results"] == []
    assert client.get(f"{TEMPLATES}{body['id']}/").json()["name"] == "中通 100x150"

    fields = [
        {"key": "shop_name", "x": 10, "y": 20.5, "w": 40, "h": 6, "font_size": 12, "bold": True},
        {"key": "qr_code", "x": 70, "y": 0, "w": 20, "h": 20, "font_size": 0},
    ]
    changed = client.patch(
        f"{TEMPLATES}{body['id']}/",
        {"custom_fields": fields, "free_text": "感谢惠顾", "watermark": "样品", "grayscale": True},
        format="json",
    )

    assert changed.status_code == 200, changed.json()
    template = LabelTemplate.objects.get(pk=body["id"])
    assert template.custom_fields == [
        {"key": "shop_name", "x": 10.0, "y": 20.5, "w": 40.0, "h": 6.0, "font_size": 12.0,
         "bold": True},
        {"key": "qr_code", "x": 70.0, "y": 0.0, "w": 20.0, "h": 20.0, "font_size": 0.0,
         "bold": False},
    ]  # fmt: skip
    assert (template.free_text, template.watermark, template.grayscale) == (
        "感谢惠顾",
        "样品",
        True,
    )
    assert template.name == "中通 100x150"  # untouched by the PATCH


def test_is_default_moves_the_default_within_the_carrier(shop_a):
    first = make_template(shop_a, name="甲")
    second = make_template(shop_a, name="乙")
    other = make_template(shop_a, carrier="YTO", name="圆通")
    assert first.is_default and not second.is_default and other.is_default

    response = token_client(shop_a).patch(
        f"{TEMPLATES}{second.pk}/", {"is_default": True}, format="json"
    )

    assert response.status_code == 200 and response.json()["is_default"] is True
    defaults = set(LabelTemplate.objects.filter(is_default=True).values_list("name", flat=True))
    assert defaults == {"乙", "圆通"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"key": "product_name", "x": 90, "y": 0, "w": 20, "h": 5, "font_size": 9}], "inside"),
        ([{"key": "product_name", "x": 0, "y": 0, "w": 20, "h": 5, "font_size": 50}], "font"),
        ([{"key": "barcode", "x": 0, "y": 0, "w": 20, "h": 5, "font_size": 9}], "key"),
        ([{"key": "spec", "x": "left", "y": 0, "w": 20, "h": 5, "font_size": 9}], "number"),
    ],
)
def test_a_bad_custom_field_is_400_naming_it(shop_a, fields, message):
    template = make_template(shop_a)
    before = list(template.custom_fields)

    response = token_client(shop_a, language="en").patch(
        f"{TEMPLATES}{template.pk}/", {"custom_fields": fields}, format="json"
    )

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert list(detail) == ["custom_fields[0]"]
    assert message in detail["custom_fields[0]"][0]
    assert LabelTemplate.objects.get(pk=template.pk).custom_fields == before


def test_create_errors_name_their_fields(shop_a):
    client = token_client(shop_a)
    make_template(shop_a, name="已有")

    missing = client.post(TEMPLATES, {}, format="json").json()
    assert missing["code"] == "VALIDATION_ERROR"
    assert set(missing["detail"]) == {"carrier", "size", "name"}
    # ZTO prints 76x130, 100x150 and 100x180; 10x10 cm is for cross-border carriers
    wrong_size = client.post(
        TEMPLATES, {"carrier": "ZTO", "size": "100x100", "name": "新"}, format="json"
    )
    assert wrong_size.status_code == 400 and list(wrong_size.json()["detail"]) == ["size"]
    taken = client.post(
        TEMPLATES, {"carrier": "ZTO", "size": "100x150", "name": "已有"}, format="json"
    )
    assert taken.status_code == 400 and list(taken.json()["detail"]) == ["name"]
    bad_json = client.post(
        TEMPLATES,
        {"carrier": "ZTO", "size": "100x150", "name": "文本", "custom_fields": "[{"},
        format="json",
    )
    assert bad_json.status_code == 400 and list(bad_json.json()["detail"]) == ["custom_fields"]
    assert LabelTemplate.objects.filter(shop=shop_a).count() == 1


def test_a_form_body_is_refused_the_api_reads_json(shop_a):
    import json

    fields = [{"key": "remark", "x": 0, "y": 0, "w": 30, "h": 5, "font_size": 8}]
    body = {"carrier": "ZTO", "size": "76x130", "name": "表单", "custom_fields": json.dumps(fields)}
    response = token_client(shop_a).post(TEMPLATES, body, format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not LabelTemplate.objects.filter(shop=shop_a).exists()
    created = token_client(shop_a).post(TEMPLATES, {**body, "custom_fields": fields})
    assert created.status_code == 201, created.json()
    assert created.json()["custom_fields"][0]["key"] == "remark"
    assert created.json()["grayscale"] is False


def test_another_shops_template_is_404(shop_a, shop_b):
    theirs = make_template(shop_b, name="B 的模板")
    client = token_client(shop_a)

    assert client.get(f"{TEMPLATES}{theirs.pk}/").status_code == 404
    patched = client.patch(f"{TEMPLATES}{theirs.pk}/", {"name": "偷改"}, format="json")
    assert patched.status_code == 404
    assert client.get(f"{TEMPLATES}{theirs.pk}/preview/").status_code == 404
    assert LabelTemplate.objects.get(pk=theirs.pk).name == "B 的模板"


@pytest.mark.parametrize(("dpi", "expected"), [(None, 203), (203, 203), (300, 300)])
def test_preview_is_a_png_of_the_size_at_the_dpi(shop_a, dpi, expected):
    template = make_template(shop_a, size="100x180")
    url = f"{TEMPLATES}{template.pk}/preview/" + (f"?dpi={dpi}" if dpi else "")

    response = token_client(shop_a).get(url, HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = png(response)
    assert image.size == (px(100, expected), px(180, expected))
    # sample data only: the sample number, never a consumer's
    assert [r.text for r in zxingcpp.read_barcodes(image)][:1] == ["73100000000019"]


def test_preview_changes_with_the_custom_area_and_refuses_other_dpis(shop_a):
    template = make_template(shop_a)
    client = token_client(shop_a)
    url = f"{TEMPLATES}{template.pk}/preview/"
    before = client.get(url).content

    client.patch(
        f"{TEMPLATES}{template.pk}/",
        {"custom_fields": [{"key": "free_text", "x": 5, "y": 30, "w": 80, "h": 12,
                            "font_size": 24, "bold": True}], "free_text": "易碎品"},
        format="json",
    )  # fmt: skip

    assert client.get(url).content != before
    refused = client.get(url + "?dpi=600")
    assert refused.status_code == 400 and list(refused.json()["detail"]) == ["dpi"]


def test_templates_are_in_the_openapi_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/templates/",
        "/api/v1/templates/{template_id}/",
        "/api/v1/templates/{template_id}/preview/",
        "/api/v1/waybills/{waybill_no}/label/",
    ):
        assert path in schema["paths"], path
