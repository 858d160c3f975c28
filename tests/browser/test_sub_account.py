"""A sub-account in Chromium sees only the menus and buttons its permissions allow; the owner
adds it on the permission grid (the password rules refuse 12345678) and disables it through
the confirmation step, with the keyboard alone."""

import pytest

from shops.models import Membership
from tests.browser.conftest import login, submit
from tests.conftest import make_order, make_shop, make_user
from tests.waybills.conftest import open_service
from waybills.models import Waybill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_PASSWORD = "Owner-desk-2024"
PACKER_PASSWORD = "Night-shift-88"


def test_a_sub_account_sees_only_the_buttons_of_its_permissions(page, second_page):
    shop = make_shop("100061", user=make_user("owner61", OWNER_PASSWORD), name="星河家居旗舰店")
    open_service(shop, "ZTO", balance=10)
    order = make_order(shop, "SUB-0001")
    orders_url = f"{page.base_url}/console/orders/"
    order_url = f"{orders_url}{order.pk}/"

    # --- the owner adds a packer who may only allocate (取号), on the permission grid
    owner = second_page
    login(owner, "owner61", OWNER_PASSWORD)
    owner.wait_for_url("**/console/")
    submit(owner, owner.get_by_test_id("nav-accounts"))
    form = owner.get_by_test_id("account-create")
    form.locator("input[name=username]").fill("packer61")
    form.locator("input[name=password]").fill("12345678")
    form.get_by_label("获取电子面单号").check()
    submit(owner, form.locator("button[type=submit]"))
    problem = owner.get_by_test_id("field-error-password").inner_text()
    assert problem == "密码：这个密码太常见了。 密码：密码只包含数字。"
    form = owner.get_by_test_id("account-create")
    assert form.get_by_label("获取电子面单号").is_checked()  # the ticks are kept
    form.locator("input[name=password]").fill(PACKER_PASSWORD)
    submit(owner, form.locator("button[type=submit]"))
    packer = Membership.objects.get(user__username="packer61")
    assert packer.permissions == ["waybill.allocate"]

    # --- the owner sees every button
    owner.goto(orders_url)
    assert owner.get_by_test_id("export").is_visible()
    assert owner.get_by_test_id("nav-dropship").is_visible()
    owner.get_by_test_id("batch-print").wait_for()
    owner.goto(order_url)
    assert owner.get_by_test_id("reveal").is_visible()
    owner.get_by_test_id("allocate-form").wait_for()

    # --- the packer: 取号 and nothing it may not use, in the menu, the list and the order
    login(page, "packer61", PACKER_PASSWORD)
    page.wait_for_url("**/console/")
    menu = page.locator("nav.sidenav").inner_text()
    for hidden in ("代发管理", "导入订单", "子账号管理", "打印机", "发货地址", "扫描发货"):
        assert hidden not in menu
    assert page.locator("nav.sidenav a[href='/console/orders/']").is_visible()
    page.goto(orders_url)
    page.get_by_test_id("batch-allocate").wait_for()
    bar = page.locator(".batchbar").inner_text()
    assert "导出" not in bar and "批量打印" not in bar and "拣货单" not in bar
    assert page.get_by_test_id("export").count() == 0
    assert page.get_by_test_id("import-link").count() == 0
    page.goto(order_url)
    block = page.get_by_test_id("order-waybills")
    block.get_by_test_id("allocate-form").wait_for()
    assert "查看完整信息" not in page.locator("main").inner_text()
    assert page.get_by_test_id("reveal").count() == 0
    assert page.get_by_test_id("ship-form").count() == 0
    submit(page, block.get_by_test_id("allocate-form").locator("button[type=submit]"))
    assert Waybill.objects.filter(order=order).count() == 1

    # --- the owner disables the packer with the keyboard, after a confirmation step
    owner.goto(f"{owner.base_url}/console/accounts/{packer.pk}/")
    owner.get_by_test_id("disable").focus()
    with owner.expect_navigation():
        owner.keyboard.press("Enter")
    assert "确认停用 packer61？" in owner.get_by_test_id("confirm-question").inner_text()
    packer.refresh_from_db()
    assert packer.is_active  # asking changes nothing
    assert owner.get_by_test_id("confirm-submit").evaluate("el => el === document.activeElement")
    with owner.expect_navigation():
        owner.keyboard.press("Enter")
    assert owner.get_by_test_id("account-disabled").is_visible()
    packer.refresh_from_db()
    assert not packer.is_active
    page.goto(orders_url)
    assert page.get_by_test_id("order-table").count() == 0
