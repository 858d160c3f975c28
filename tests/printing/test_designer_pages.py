"""Label template pages with the Django test client: the list (面单模板) with its create
form, the designer page, its draft preview and its Save endpoint (errors named per field),
设为默认, and another shop's template as a 404."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.utils.translation import gettext, override
from PIL import Image

from printing import layout as L
from printing.models import LabelTemplate
from printing.services import template_create
from shops.services import sub_account_create
from tests.conftest import main_actor
from waybill_console import permissions as perms

pytestmark = pytest.mark.django_db

LIST = "/console/label-templates/"


@pytest.fixture
def merchant(client, shop_a):
    client.force_login(shop_a.memberships.get().user)
    return client


def make_template(shop, carrier="ZTO", size="100x150", name="中通标准", **data):
    return template_create(
        actor=main_actor(shop), data={"carrier": carrier, "size": size, "name": name, **data}
    )


def text(response) -> str:
    return response.content.decode()


def designer_data(response) -> dict:
    match = re.search(
        r'<script id="designer-data" type="application/json">(.*?)</script>', text(response), re.S
    )
    assert match, "no designer data"
    return json.loads(match[1])


def saved_message() -> str:
    with override("zh-hans"):
        return gettext("Saved.")


FIELD = {"key": "shop_name", "x": 12.5, "y": 30, "w": 50, "h": 8, "font_size": 16, "bold": True}


# --- the list ---------------------------------------------------------------------------------


def test_the_list_groups_templates_per_carrier_with_the_default_marked(merchant, shop_a, shop_b):
    first = make_template(shop_a, name="中通一")
    second = make_template(shop_a, name="中通二", size="76x130")
    yto = make_template(shop_a, carrier="YTO", name="圆通")
    make_template(shop_b, name="别家的模板")

    response = merchant.get(LIST)

    assert response.status_code == 200
    html = text(response)
    assert f'href="{LIST}"' in html  # the sidebar entry
    assert 'data-testid="carrier-templates-ZTO"' in html
    assert 'data-testid="carrier-templates-YTO"' in html
    for t in (first, second, yto):
        assert f'data-testid="template-{t.pk}"' in html
        assert f'href="/console/label-templates/{t.pk}/"' in html
    assert "别家的模板" not in html
    # the default of each carrier is marked; the others can be made default
    assert html.count('data-testid="default-badge"') == 2
    assert f'data-testid="set-default-{second.pk}"' in html
    assert f'data-testid="set-default-{first.pk}"' not in html
    assert "设为默认" in html


def test_the_create_form_offers_only_the_carriers_sizes(merchant, shop_a):
    html = text(merchant.get(LIST))
    form = html[html.index('data-testid="template-create"') :]
    sizes = re.findall(r'<select name="size".*?</select>', form, re.S)[0]
    assert re.findall(r'value="([^"]+)"', sizes) == ["76x130", "100x150", "100x180"]
    assert 'data-testid="no-templates"' in html

    intl = merchant.get("/console/label-templates/sizes/?carrier=ZTOINTL")
    assert re.findall(r'value="([^"]+)"', text(intl)) == ["100x100", "100x150"]
    assert 'value="100x150" selected' in text(intl)  # the usual size first
    zto = merchant.get("/console/label-templates/sizes/?carrier=zto&size=100x180")
    assert re.findall(r'value="([^"]+)"', text(zto)) == ["76x130", "100x150", "100x180"]
    assert 'value="100x180" selected' in text(zto)


def test_creating_a_template_opens_the_designer(merchant, shop_a):
    response = merchant.post(
        "/console/label-templates/new/", {"carrier": "ZTO", "size": "100x180", "name": "二联单"}
    )

    template = LabelTemplate.objects.get(shop=shop_a)
    assert response.status_code == 302
    assert response["Location"] == f"/console/label-templates/{template.pk}/"
    assert (template.carrier.code, template.size, template.name) == ("ZTO", "100x180", "二联单")
    assert template.is_default and template.custom_fields == L.default_custom_fields("100x180")


def test_a_refused_create_shows_the_error_next_to_the_field(merchant, shop_a):
    make_template(shop_a, name="已有")

    wrong_size = merchant.post(
        "/console/label-templates/new/", {"carrier": "ZTO", "size": "100x100", "name": "新"}
    )
    taken = merchant.post(
        "/console/label-templates/new/", {"carrier": "ZTO", "size": "100x150", "name": "已有"}
    )

    assert wrong_size.status_code == 400
    assert 'data-testid="field-error-size"' in text(wrong_size)
    assert 'value="新"' in text(wrong_size)  # the form keeps what was typed
    assert taken.status_code == 400
    assert 'data-testid="field-error-name"' in text(taken)
    assert LabelTemplate.objects.filter(shop=shop_a).count() == 1


def test_set_default_from_the_list_and_from_the_designer(merchant, shop_a):
    first = make_template(shop_a, name="甲")
    second = make_template(shop_a, name="乙")

    response = merchant.post(f"/console/label-templates/{second.pk}/default/")
    assert response.status_code == 302 and response["Location"] == LIST
    assert set(LabelTemplate.objects.filter(is_default=True).values_list("pk", flat=True)) == {
        second.pk
    }

    response = merchant.post(f"/console/label-templates/{first.pk}/default/", {"next": "designer"})
    assert response["Location"] == f"/console/label-templates/{first.pk}/"
    assert LabelTemplate.objects.get(is_default=True).pk == first.pk


# --- the designer -----------------------------------------------------------------------------


def test_the_designer_shows_the_preview_and_the_custom_area_to_scale(merchant, shop_a):
    template = make_template(shop_a)

    response = merchant.get(f"/console/label-templates/{template.pk}/")

    assert response.status_code == 200
    html = text(response)
    assert '<script src="/static/js/designer.js" defer></script>' in html
    assert re.search(
        rf'<img id="designer-preview" src="/console/label-templates/{template.pk}/preview.png'
        r'\?v=\d+" width="350" height="525"',
        html,
    )
    x, y, w, h = L.build_layout("100x150").custom_box  # 3.5 px per mm: 150 mm in 525 px
    px = {k: f"{v * 3.5:g}" for k, v in zip("xywh", (x, y, w, h), strict=True)}
    assert f"left:{px['x']}px;top:{px['y']}px;width:{px['w']}px;height:{px['h']}px" in html
    data = designer_data(response)
    assert data["fields"] == template.custom_fields
    assert data["box"] == {"w": round(w, 2), "h": round(h, 2)}
    assert data["scale"] == 3.5 and data["snap"] == 0.5
    assert [c["key"] for c in data["catalogue"]] == list(L.CUSTOM_FIELDS)
    labels = data["strings"]["labels"]
    assert labels["spec"] == "规格" and labels["quantity"] == "数量"
    # the hidden field carries the whole custom area for a form without the script
    hidden = re.search(r'name="custom_fields" id="designer-fields-input" value="([^"]*)"', html)
    assert json.loads(hidden[1].replace("&quot;", '"')) == template.custom_fields
    assert 'data-testid="set-default"' not in html  # already the default


@pytest.mark.parametrize(
    ("size", "scale"), [("76x130", 4.0), ("100x150", 3.5), ("100x180", 3.0), ("100x100", 4.0)]
)
def test_the_whole_label_fits_the_stage(size, scale):
    from printing.views.designer import stage_scale

    assert stage_scale(size) == scale
    assert L.SIZES[size][1] * scale <= 560


def test_the_preview_draws_the_saved_template_or_the_unsaved_draft(merchant, shop_a):
    template = make_template(shop_a, size="76x130")
    url = f"/console/label-templates/{template.pk}/preview.png"

    saved = merchant.get(url)
    draft = merchant.get(url, {"fields": json.dumps([FIELD]), "free_text": "易碎"})
    at_300 = merchant.get(url, {"dpi": 300})

    assert saved.status_code == draft.status_code == 200
    assert saved["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(saved.content)).size == (round(76 * 203 / 25.4), 1039)
    assert Image.open(io.BytesIO(at_300.content)).size == (898, 1535)
    assert draft.content != saved.content
    assert LabelTemplate.objects.get(pk=template.pk).custom_fields == template.custom_fields

    bad = merchant.get(url, {"fields": json.dumps([{**FIELD, "x": 70}])})
    assert bad.status_code == 400
    assert list(bad.json()["detail"]) == ["custom_fields[0]"]
    assert merchant.get(url, {"dpi": 72}).status_code == 400


def test_save_stores_the_whole_custom_area_and_answers_json(merchant, shop_a):
    template = make_template(shop_a)
    before = merchant.get(f"/console/label-templates/{template.pk}/preview.png").content

    response = merchant.post(
        f"/console/label-templates/{template.pk}/save/",
        {
            "custom_fields": json.dumps([FIELD]),
            "free_text": " 感谢惠顾 ",
            "watermark": "样品",
            "grayscale": ["0", "1"],
        },
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["message"] == saved_message()
    template.refresh_from_db()
    assert template.custom_fields == [{**FIELD, "x": 12.5, "y": 30.0, "w": 50.0, "h": 8.0,
                                       "font_size": 16.0}]  # fmt: skip
    assert (template.free_text, template.watermark, template.grayscale) == (
        "感谢惠顾",
        "样品",
        True,
    )
    assert body["template"]["custom_fields"] == template.custom_fields
    assert body["preview_url"].startswith(f"/console/label-templates/{template.pk}/preview.png?v=")
    after = merchant.get(body["preview_url"]).content
    assert after != before


def test_save_without_the_checkbox_turns_grayscale_off_and_keeps_the_rest(merchant, shop_a):
    template = make_template(shop_a, grayscale=True, watermark="样品")

    response = merchant.post(
        f"/console/label-templates/{template.pk}/save/",
        {"grayscale": "0"},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200
    template.refresh_from_db()
    assert template.grayscale is False and template.watermark == "样品"
    assert template.custom_fields == L.default_custom_fields("100x150")


def test_a_refused_save_names_the_field_and_changes_nothing(merchant, shop_a):
    template = make_template(shop_a)
    fields = [dict(FIELD), {**FIELD, "key": "remark", "y": 60}]  # the second sticks out

    response = merchant.post(
        f"/console/label-templates/{template.pk}/save/",
        {"custom_fields": json.dumps(fields), "watermark": "x" * 30},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert list(body["detail"]) == ["watermark"]  # settings are checked first

    response = merchant.post(
        f"/console/label-templates/{template.pk}/save/",
        {"custom_fields": json.dumps(fields)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert list(detail) == ["custom_fields[1]"]
    assert "96×66" in detail["custom_fields[1]"][0]  # the custom area, in mm
    assert LabelTemplate.objects.get(pk=template.pk).custom_fields == template.custom_fields

    garbled = merchant.post(
        f"/console/label-templates/{template.pk}/save/",
        {"custom_fields": "[{"},
        HTTP_ACCEPT="application/json",
    )
    assert garbled.status_code == 400 and list(garbled.json()["detail"]) == ["custom_fields"]


def test_a_plain_form_save_redirects_or_shows_the_page_with_the_error(merchant, shop_a):
    template = make_template(shop_a)
    url = f"/console/label-templates/{template.pk}/save/"

    saved = merchant.post(url, {"custom_fields": json.dumps([FIELD]), "free_text": "谢谢"})
    assert saved.status_code == 302
    assert saved["Location"] == f"/console/label-templates/{template.pk}/"
    page = merchant.get(saved["Location"])
    assert saved_message() in text(page)

    bad = [{**FIELD, "font_size": 99}]
    refused = merchant.post(url, {"custom_fields": json.dumps(bad), "free_text": "改了"})
    assert refused.status_code == 400
    html = text(refused)
    assert 'data-testid="designer-error"' in html and "custom_fields[0]" in html
    data = designer_data(refused)
    assert data["fields"][0]["font_size"] == 99  # the draft is shown again, with its error
    assert list(data["errors"]) == ["custom_fields[0]"]
    assert 'value="改了"' in html
    template.refresh_from_db()
    assert template.custom_fields[0]["font_size"] == 16.0 and template.free_text == "谢谢"


def test_saving_needs_the_print_permission(client, shop_a):
    template = make_template(shop_a)
    membership = sub_account_create(
        actor=main_actor(shop_a),
        username="clerk",
        password="pass-12345",
        permissions=[perms.ORDER_MANAGE],
    )
    client.force_login(membership.user)

    assert client.get(f"/console/label-templates/{template.pk}/").status_code == 200
    response = client.post(
        f"/console/label-templates/{template.pk}/save/",
        {"custom_fields": json.dumps([FIELD])},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 403
    assert response.json()["detail"] == {"permission": ["print"]}
    assert LabelTemplate.objects.get(pk=template.pk).custom_fields == template.custom_fields


def test_another_shops_template_is_404_on_every_page(merchant, shop_b):
    theirs = make_template(shop_b, name="别家的")
    base = f"/console/label-templates/{theirs.pk}/"

    assert merchant.get(base).status_code == 404
    assert merchant.get(base + "preview.png").status_code == 404
    assert merchant.post(base + "default/").status_code == 404
    saved = merchant.post(base + "save/", {"custom_fields": "[]"}, HTTP_ACCEPT="application/json")
    assert saved.status_code == 404
    theirs.refresh_from_db()
    assert theirs.custom_fields == L.default_custom_fields("100x150")
