"""The console and the factory portal on a phone (390×844): the navigation folds behind a
菜单 button (aria-expanded; it opens the navigation and a link in it works), and no main
page scrolls sideways: wide tables scroll inside their card, forms stack, long lines
wrap. The demo merchant (seeded with orders, numbers, an allocation exception, a printer,
an export and a dropship binding) walks the console; the demo factory its portal."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dropship.services import allocation as dropship_allocation
from dropship.services import identity
from printing import agents, printers
from shops.models import Shop
from shops.services.exports import order_export_start
from tests.browser.conftest import login, screenshot, submit
from tests.conftest import main_actor, make_order
from waybill_console.errors import AppError
from waybills.services.allocation import exception_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

#: what sticks out past the viewport's right edge: the outermost such elements, so a
#: failure names the culprit (an element inside a scrolling card does not count)
OVERFLOW = """() => {
  const w = window.innerWidth, out = [];
  if (document.documentElement.scrollWidth <= w) return [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= w + 0.5) continue;
    const parent = el.parentElement;
    if (parent !== document.body && parent.getBoundingClientRect().right > w + 0.5) continue;
    if (getComputedStyle(parent).overflowX !== "visible") continue;
    out.push(el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim()
      .replace(/\\s+/g, ".") : "") + " right=" + Math.round(r.right));
  }
  return ["scrollWidth=" + document.documentElement.scrollWidth].concat(out.slice(0, 8));
}"""


def _seed() -> dict:
    """The demo shops with rows on every page walked; the ids some pages take."""
    call_command("seed_demo", "--quiet", "--orders", "12", "--waybills")
    merchant = Shop.objects.get(shop_no="100001")
    factory = Shop.objects.get(shop_no="200001")
    actor = main_actor(merchant)
    failed = make_order(merchant, "PHONE-EXC-1")
    exception_record(order=failed, error=AppError("获取单号失败"), carrier="ZTO")
    binding = identity.binding_request(actor=actor, factory_shop_no="200001")
    identity.binding_confirm(actor=main_actor(factory), binding_id=binding.pk)
    handed = make_order(merchant, "PHONE-DS-20240601-000000000001")
    dropship_allocation.allocation_create(actor=actor, factory="200001", orders=[handed.pk])
    agent, _key = agents.agent_create(actor=actor, name="打包台电脑")
    printers.printer_create(
        actor=actor,
        data={"name": "打包台打印机", "kind": "zpl", "connection": "agent", "agent": agent.pk,
              "agent_target": "usb://0416:5011"},
    )  # fmt: skip
    order_export_start(actor=actor, params={}, file_format="csv")
    numbered = merchant.orders.filter(waybills__isnull=False).order_by("pk").first()
    return {"order_id": numbered.pk}


MERCHANT_PAGES = [
    "/console/",  # 概览
    "/console/orders/",  # 订单列表
    "/console/orders/{order_id}/",  # an order with a number
    "/console/scan/",  # 扫描发货
    "/console/waybill-service/",  # 面单服务
    "/console/waybills/",  # 使用详情
    "/console/waybills/exceptions/",  # 面单异常
    "/console/printers/",  # 打印机
    "/console/label-templates/",  # 面单模板
    "/console/accounts/",  # 子账号
    "/console/downloads/",  # 下载中心
    "/console/dropship/",  # 代发管理
    "/console/dropship/orders/",
]
FACTORY_PAGES = ["/factory/", "/factory/merchants/", "/factory/orders/", "/factory/prices/",
                 "/factory/statements/"]  # fmt: skip


def _too_wide(page, path: str) -> list[str]:
    """Open ``path``; what makes it wider than the screen (nothing, if it fits)."""
    page.goto(page.base_url + path)
    assert page.locator("h1").is_visible(), path
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        return []
    return page.evaluate(OVERFLOW)


def _open_menu_and_follow(page, link) -> None:
    """The navigation is folded; 菜单 opens it (aria-expanded) and a link in it works."""
    nav, toggle = page.locator("nav.sidenav"), page.get_by_role("button", name="菜单")
    assert not nav.is_visible() and not link.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.focus()
    page.keyboard.press("Enter")  # a keyboard is enough
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    assert nav.bounding_box()["width"] >= PHONE["width"] - 1  # the whole width, not a strip
    page.keyboard.press("Escape")  # and closes again
    assert toggle.get_attribute("aria-expanded") == "false" and not nav.is_visible()
    toggle.click()
    submit(page, link)
    assert not nav.is_visible()  # the next page starts folded


def test_console_and_factory_portal_fit_a_phone(page, second_page):
    ids = _seed()
    too_wide: dict = {}

    page.set_viewport_size(PHONE)
    login(page, "merchant")
    page.wait_for_url("**/console/")
    # the shop switcher and the language switch stay on screen
    assert page.locator("#shop-switch").is_visible()
    assert page.get_by_test_id("lang-en").is_visible()
    _open_menu_and_follow(page, page.locator("nav.sidenav a[href$='/console/orders/']"))
    assert page.url.endswith("/console/orders/")
    page.locator("#batch-form").evaluate("form => form.scrollIntoView()")  # the rows
    screenshot(page, "phone-order-list")
    for path in MERCHANT_PAGES:
        if found := _too_wide(page, path.format(**ids)):
            too_wide[path] = found

    second_page.set_viewport_size(PHONE)
    login(second_page, "factory")
    second_page.wait_for_url("**/factory/")
    _open_menu_and_follow(second_page, second_page.get_by_test_id("nav-factory-orders"))
    assert second_page.url.endswith("/factory/orders/")
    assert second_page.get_by_test_id("order-no").first.is_visible()
    screenshot(second_page, "phone-factory-orders")
    for path in FACTORY_PAGES:
        if found := _too_wide(second_page, path):
            too_wide[path] = found
    assert not too_wide, too_wide
