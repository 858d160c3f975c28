"""The label designer in Chromium: create a ZTO 100×150 template from 面单模板, drag a
field of the custom area to a new place (leaving now asks first: unsaved), resize another
by its corner, change a font size, save; the stored custom area changed accordingly, the
preview shows the saved label and the page is left without a question; the 隐私面单 box,
on for a new template, saved off and on survives a reload."""

from __future__ import annotations

import hashlib
import math

import pytest
from django.core.management import call_command

from printing.layout import build_layout
from printing.models import LabelTemplate
from printing.services import template_create, template_preview
from shops.models import Shop
from tests.browser.conftest import login, screenshot
from tests.conftest import main_actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCALE = 3.5  # px per mm on the designer's stage for 100×150 mm

# the preview's pixels, hashed on a canvas: what the page shows, not what it asked for
PIXEL_HASH = """async () => {
  const img = document.getElementById("designer-preview");
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 2166136261;
  for (let i = 0; i < px.length; i += 4) { h = Math.imul(h ^ px[i], 16777619) >>> 0; }
  return {width: img.naturalWidth, height: img.naturalHeight, hash: h, src: img.src};
}"""

# the bytes behind the image, as the server sent them
PREVIEW_BYTES = """async () => {
  const img = document.getElementById("designer-preview");
  const buf = await (await fetch(img.src)).arrayBuffer();
  return Array.from(new Uint8Array(buf));
}"""


def snap(mm: float) -> float:
    """On the designer's 0.5 mm grid (as the script rounds)."""
    return math.floor(mm / 0.5 + 0.5) * 0.5


def drag(page, locator, dx: float, dy: float, *, at=None) -> None:
    box = locator.bounding_box()
    x, y = at(box) if at else (box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=12)
    page.mouse.up()


def test_drag_resize_font_size_save_and_the_preview_follows(page):
    call_command("seed_demo", "--quiet")

    login(page, "merchant")
    page.wait_for_url("**/console/")
    page.locator("nav.sidenav a[href$='/console/label-templates/']").click()
    page.wait_for_url("**/console/label-templates/")
    assert page.locator("h1").inner_text() in ("面单模板", "Label templates")

    # --- 新建模板: ZTO, 100×150, a name → straight to the designer
    with page.expect_response("**/label-templates/sizes/?*"):  # the carrier's sizes (htmx)
        page.get_by_test_id("template-carrier").select_option("ZTO")
    page.locator("#template-size option[value='100x180']").wait_for(state="attached")
    page.get_by_test_id("template-size").select_option("100x150")
    page.get_by_test_id("template-name").fill("中通 100×150 设计")
    with page.expect_navigation():
        page.get_by_test_id("template-create-submit").click()
    template = LabelTemplate.objects.get(name="中通 100×150 设计")
    assert (template.carrier.code, template.size, template.shop.shop_no) == (
        "ZTO",
        "100x150",
        "100001",
    )
    page.wait_for_url(f"**/console/label-templates/{template.pk}/")
    page.locator("form#designer[data-ready='1']").wait_for()
    page.locator("#designer-preview[data-state='ready']").wait_for()

    start = {f["key"]: dict(f) for f in template.custom_fields}
    product, spec = start["product_name"], start["spec"]
    assert (product["x"], product["y"]) == (0, 0)
    before = page.evaluate(PIXEL_HASH)
    assert (before["width"], before["height"]) == (799, 1199)  # 100×150 mm at 203 dpi

    # the overlay is the custom area to scale: 4 px per mm
    area = page.get_by_test_id("custom-area").bounding_box()
    _x, _y, bw, bh = build_layout("100x150").custom_box
    assert abs(area["width"] - bw * SCALE) < 1.5 and abs(area["height"] - bh * SCALE) < 1.5

    assert (
        page.evaluate("JSON.parse(document.getElementById('designer-data').textContent)")["scale"]
        == SCALE
    )

    # --- drag 商品名称 by (+10 mm, +25 mm)
    boxes = page.locator(".designer-field")
    i_product = [f["key"] for f in template.custom_fields].index("product_name")
    i_spec = [f["key"] for f in template.custom_fields].index("spec")
    drag(page, boxes.nth(i_product), 10 * SCALE, 25 * SCALE)
    assert page.get_by_test_id(f"x-{i_product}").input_value() == "10"
    assert page.get_by_test_id(f"y-{i_product}").input_value() == "25"
    moved = page.get_by_test_id(f"field-box-{i_product}").bounding_box()
    assert abs(moved["x"] - (area["x"] + 10 * SCALE)) < 1.5
    assert abs(moved["y"] - (area["y"] + 25 * SCALE)) < 1.5
    # the draft preview follows the drag before anything is saved
    page.locator("[data-testid=designer-status][data-kind=dirty]").wait_for()
    page.wait_for_function(
        "() => document.getElementById('designer-preview').dataset.state === 'ready'"
        " && document.getElementById('designer-preview').src.startsWith('blob:')"
    )

    # leaving with the drag unsaved: the browser asks first; staying keeps the drag
    asked = []

    def answer(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.locator("nav.sidenav a[href$='/console/label-templates/']").click()
    page.wait_for_function("() => document.getElementById('designer').dataset.dirty === '1'")
    assert asked == ["beforeunload"]
    assert page.url.endswith(f"/console/label-templates/{template.pk}/")
    assert page.get_by_test_id(f"x-{i_product}").input_value() == "10"

    # --- resize 规格 by its corner: +5.2 mm wide, +1.9 mm high → +5 mm, +2 mm (0.5 mm grid)
    handle = page.get_by_test_id(f"field-handle-{i_spec}")
    centre = lambda b: (b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)  # noqa: E731
    drag(page, handle, 5.2 * SCALE, 1.9 * SCALE, at=centre)
    assert page.get_by_test_id(f"w-{i_spec}").input_value() == f"{spec['w'] + 5:g}"
    assert page.get_by_test_id(f"h-{i_spec}").input_value() == f"{spec['h'] + 2:g}"

    # --- 字号 of 商品名称: 14 pt, bold
    page.get_by_test_id(f"font-size-{i_product}").fill("14")
    page.get_by_test_id(f"field-row-{i_product}").locator("input[type=checkbox]").check()

    # --- 保存
    page.get_by_test_id("designer-save").click()
    page.locator("[data-testid=designer-status][data-kind=ok]").wait_for()
    page.wait_for_function(
        "() => document.getElementById('designer-preview').dataset.state === 'ready'"
        " && !document.getElementById('designer').dataset.dirty"
    )

    template.refresh_from_db()
    saved = {f["key"]: f for f in template.custom_fields}
    assert saved["product_name"] == {
        **product,
        "x": 10.0,
        "y": 25.0,
        "font_size": 14.0,
        "bold": True,
    }
    assert saved["spec"] == {**spec, "w": spec["w"] + 5, "h": spec["h"] + 2}
    assert {k: v for k, v in saved.items() if k not in ("product_name", "spec")} == {
        k: v for k, v in start.items() if k not in ("product_name", "spec")
    }

    # the preview now shows the saved label: other pixels than before, the server's bytes
    after = page.evaluate(PIXEL_HASH)
    assert (after["width"], after["height"]) == (799, 1199)
    assert after["hash"] != before["hash"]
    assert after["src"] != before["src"]
    shown = bytes(page.evaluate(PREVIEW_BYTES))
    assert (
        hashlib.sha256(shown).digest()
        == hashlib.sha256(template_preview(template=template)).digest()
    )
    page.get_by_test_id(f"field-box-{i_product}").hover()  # its name tag shows
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "label-designer")

    # a reload shows the stored layout (the server's preview URL carries a new version)
    page.reload()
    page.locator("form#designer[data-ready='1']").wait_for()
    assert page.get_by_test_id(f"x-{i_product}").input_value() == "10"
    assert page.get_by_test_id(f"font-size-{i_product}").input_value() == "14"
    assert page.evaluate(PIXEL_HASH)["hash"] == after["hash"]

    # the list: per carrier, the first template of a carrier is its default; saved, the
    # page is left without a question
    page.locator("nav.sidenav a[href$='/console/label-templates/']").click()
    page.wait_for_url("**/console/label-templates/")
    assert asked == ["beforeunload"]
    row = page.get_by_test_id(f"template-{template.pk}")
    assert row.get_by_test_id("default-badge").is_visible()
    screenshot(page, "label-templates")


def test_a_field_dragged_out_is_kept_inside_and_a_refusal_is_shown_next_to_it(page):
    call_command("seed_demo", "--quiet")
    login(page, "merchant")
    page.wait_for_url("**/console/")
    shop = Shop.objects.get(shop_no="100001")
    template = template_create(
        actor=main_actor(shop), data={"carrier": "ZTO", "size": "76x130", "name": "一联单"}
    )
    page.goto(f"{page.base_url}/console/label-templates/{template.pk}/")
    page.locator("form#designer[data-ready='1']").wait_for()
    box = template.custom_fields[0]

    # far past the right and bottom edges: the box stops at the custom area's edge
    drag(page, page.get_by_test_id("field-box-0"), 2000, 2000)
    x = float(page.get_by_test_id("x-0").input_value())
    y = float(page.get_by_test_id("y-0").input_value())
    area = build_layout("76x130").custom_box
    assert x + box["w"] <= area[2] + 0.05 and x > area[2] - box["w"] - 0.5
    assert y + box["h"] <= area[3] + 0.05 and y > area[3] - box["h"] - 0.5

    # a font size the server refuses: the error is shown on that field's row
    page.get_by_test_id("font-size-0").fill("60")
    page.get_by_test_id("designer-save").click()
    error = page.get_by_test_id("field-error-custom_fields[0]")
    error.wait_for()
    assert "36" in error.inner_text()  # font size from 6 to 36 pt
    assert page.get_by_test_id("field-box-0").get_attribute("class").count("invalid") == 1
    assert page.get_by_test_id("designer-status").get_attribute("data-kind") == "error"
    template.refresh_from_db()
    assert template.custom_fields[0] == box

    # fixed: 12 pt; the keyboard nudges by 0.5 mm; a field added, another removed; saved
    page.get_by_test_id("font-size-0").fill("12")
    second = template.custom_fields[1]
    page.get_by_test_id("field-box-1").focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "Shift+ArrowRight"):
        page.keyboard.press(key)
    assert page.get_by_test_id("x-1").input_value() == f"{second['x'] + 1:g}"
    assert page.get_by_test_id("y-1").input_value() == f"{second['y'] + 0.5:g}"
    assert page.get_by_test_id("w-1").input_value() == f"{snap(second['w'] + 0.5):g}"
    page.get_by_test_id("add-field-key").select_option("shop_name")
    page.get_by_test_id("add-field").click()
    keys = [f["key"] for f in template.custom_fields] + ["shop_name"]
    assert page.locator("#designer-rows tr[data-index]").count() == len(keys)
    page.get_by_test_id(f"remove-field-{keys.index('remark')}").click()
    keys.remove("remark")
    page.get_by_test_id("designer-save").click()
    page.locator("[data-testid=designer-status][data-kind=ok]").wait_for()
    assert page.get_by_test_id("field-error-custom_fields[0]").count() == 0

    template.refresh_from_db()
    assert [f["key"] for f in template.custom_fields] == keys
    assert template.custom_fields[0]["font_size"] == 12
    assert template.custom_fields[1] == {
        **second,
        "x": second["x"] + 1,
        "y": second["y"] + 0.5,
        "w": snap(second["w"] + 0.5),
    }

    # 隐私面单: on for a new template; unticked and saved it stays off after a reload, and
    # ticked again it is on
    privacy = page.get_by_test_id("privacy")
    assert privacy.is_checked() and template.privacy is True
    for ticked in (False, True):
        privacy.set_checked(ticked)
        with page.expect_response("**/save/"):
            page.get_by_test_id("designer-save").click()
        page.locator("[data-testid=designer-status][data-kind=ok]").wait_for()
        template.refresh_from_db()
        assert template.privacy is ticked
        page.reload()
        page.locator("form#designer[data-ready='1']").wait_for()
        assert page.get_by_test_id("privacy").is_checked() is ticked
