"""Sub-accounts: password validators, rename, password reset, disable (after a confirmation
step), the permission grid, all within the shop and audited in the admin log."""

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from shops import services
from shops.models import Membership
from tests.conftest import main_actor
from waybill_console import permissions as perms
from waybill_console.errors import AppError
from waybill_console.tenancy import Actor

pytestmark = pytest.mark.django_db

PASSWORD = "Desk-seven-77"


def make_sub(shop, username="packer", permissions=(perms.PRINT, perms.SHIP), **kw) -> Membership:
    return services.sub_account_create(
        actor=main_actor(shop),
        username=username,
        password=kw.pop("password", PASSWORD),
        permissions=list(permissions),
        **kw,
    )


def log_of(membership) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(membership.pk)).order_by("pk"))


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("12345678", ["密码：这个密码太常见了。", "密码：密码只包含数字。"]),
        ("x7-Q", ["密码：密码太短，至少需要 8 个字符。"]),
        ("packer01-x", ["密码：密码与用户名太相似。"]),
    ],
)
def test_a_weak_password_is_refused_naming_the_field_and_nothing_is_created(
    shop_a, password, problems
):
    users, memberships = get_user_model().objects.count(), Membership.objects.count()
    with pytest.raises(AppError) as err:
        make_sub(shop_a, username="packer01", password=password)
    assert err.value.code == "VALIDATION_ERROR"
    assert err.value.detail == {"password": problems}
    assert get_user_model().objects.count() == users
    assert Membership.objects.count() == memberships
    assert not LogEntry.objects.exists()


def test_creating_is_audited_with_the_granted_permissions(shop_a):
    sub = make_sub(shop_a, display_name="打包员小王")
    [entry] = log_of(sub)
    assert entry.action_flag == ADDITION
    assert entry.user == shop_a.memberships.get(role="main").user
    assert entry.get_change_message() == "已添加。 添加了 权限“打印面单”。 添加了 权限“发货”。"
    assert sub.display_name == "打包员小王" and sub.permissions == [perms.PRINT, perms.SHIP]


def test_rename_sets_the_display_name_and_is_audited(shop_a):
    sub = make_sub(shop_a)
    services.sub_account_update(
        actor=main_actor(shop_a), membership_id=sub.pk, display_name="  仓库小李 "
    )
    sub.refresh_from_db()
    assert sub.display_name == "仓库小李"
    entry = log_of(sub)[-1]
    assert entry.action_flag == CHANGE and json.loads(entry.change_message) == [
        {"changed": {"fields": ["display name"]}}
    ]
    assert entry.get_change_message() == "已修改显示名称。"


def test_a_name_over_sixty_characters_is_refused_and_nothing_changes(shop_a):
    sub = make_sub(shop_a, display_name="小王")
    with pytest.raises(AppError) as err:
        services.sub_account_update(
            actor=main_actor(shop_a), membership_id=sub.pk, display_name="长" * 61
        )
    assert err.value.detail == {"display_name": ["名称：最多 60 个字符。"]}
    sub.refresh_from_db()
    assert sub.display_name == "小王" and len(log_of(sub)) == 1


def test_permission_changes_are_audited_as_granted_and_withdrawn(shop_a):
    sub = make_sub(shop_a)
    services.sub_account_update(
        actor=main_actor(shop_a), membership_id=sub.pk, permissions=[perms.SHIP, perms.EXPORT]
    )
    sub.refresh_from_db()
    assert sub.permissions == [perms.EXPORT, perms.SHIP]
    assert log_of(sub)[-1].get_change_message() == "添加了 权限“导出”。 删除了 权限“打印面单”。"


def test_password_reset_sets_it_ends_the_sessions_and_is_audited(shop_a):
    sub = make_sub(shop_a)
    client = Client()
    assert client.login(username="packer", password=PASSWORD)
    assert client.get("/console/orders/").status_code == 200

    services.sub_account_password_reset(
        actor=main_actor(shop_a), membership_id=sub.pk, password="Night-shift-88"
    )

    user = get_user_model().objects.get(pk=sub.user_id)
    assert user.check_password("Night-shift-88") and not user.check_password(PASSWORD)
    response = client.get("/console/orders/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert log_of(sub)[-1].get_change_message() == "已修改密码。"


def test_password_reset_refuses_a_weak_password_and_keeps_the_old_one(shop_a):
    sub = make_sub(shop_a)
    with pytest.raises(AppError) as err:
        services.sub_account_password_reset(
            actor=main_actor(shop_a), membership_id=sub.pk, password="12345678"
        )
    assert err.value.detail == {"password": ["密码：这个密码太常见了。", "密码：密码只包含数字。"]}
    assert get_user_model().objects.get(pk=sub.user_id).check_password(PASSWORD)
    assert len(log_of(sub)) == 1


def test_password_reset_is_refused_for_a_login_that_also_belongs_to_another_shop(shop_a, shop_b):
    sub = make_sub(shop_a)
    Membership.objects.create(user=sub.user, shop=shop_b, role=Membership.Role.SUB)
    with pytest.raises(AppError) as err:
        services.sub_account_password_reset(
            actor=main_actor(shop_a), membership_id=sub.pk, password="Night-shift-88"
        )
    assert err.value.code == "PERMISSION_DENIED"
    assert get_user_model().objects.get(pk=sub.user_id).check_password(PASSWORD)


@pytest.mark.parametrize(
    "change",
    [
        lambda actor, pk: services.sub_account_update(
            actor=actor, membership_id=pk, is_active=False
        ),
        lambda actor, pk: services.sub_account_update(
            actor=actor, membership_id=pk, display_name="x"
        ),
        lambda actor, pk: services.sub_account_password_reset(
            actor=actor, membership_id=pk, password="Night-shift-88"
        ),
    ],
    ids=["disable", "rename", "reset"],
)
def test_another_shops_sub_account_and_a_main_account_are_404(shop_a, shop_b, change):
    sub = make_sub(shop_a)
    main = shop_a.memberships.get(role="main")
    for actor, pk in ((main_actor(shop_b), sub.pk), (main_actor(shop_a), main.pk)):
        with pytest.raises(AppError) as err:
            change(actor, pk)
        assert err.value.status == 404 and err.value.code == "NOT_FOUND"
    sub.refresh_from_db()
    assert sub.is_active and sub.display_name == ""
    assert sub.user.check_password(PASSWORD) and len(log_of(sub)) == 1


def test_managing_sub_accounts_needs_the_account_permission(shop_a):
    sub = make_sub(shop_a)
    clerk = make_sub(shop_a, username="clerk", permissions=perms.GRANTABLE)
    actor = Actor.for_membership(clerk)
    with pytest.raises(AppError) as err:
        services.sub_account_update(actor=actor, membership_id=sub.pk, is_active=False)
    assert err.value.code == "PERMISSION_DENIED"
    with pytest.raises(AppError):
        services.sub_account_password_reset(
            actor=actor, membership_id=sub.pk, password="Night-shift-88"
        )
    client = Client()
    client.force_login(clerk.user)
    assert client.get(f"/console/accounts/{sub.pk}/").status_code == 403
    sub.refresh_from_db()
    assert sub.is_active and sub.user.check_password(PASSWORD)


def test_the_permission_grid_holds_each_grantable_permission_once_with_a_hint():
    codes = [p["code"] for group in perms.grid() for p in group["permissions"]]
    assert sorted(codes) == sorted(perms.GRANTABLE)
    assert all(str(p["hint"]) for group in perms.grid() for p in group["permissions"])


def test_the_owner_renames_resets_and_disables_on_the_page(shop_a, shop_b):
    sub = make_sub(shop_a)
    client = Client()
    client.force_login(shop_a.memberships.get(role="main").user)
    url = f"/console/accounts/{sub.pk}/"

    html = client.get(url).content.decode()
    assert 'data-testid="permission-grid"' in html and 'data-testid="disable"' in html
    refused = client.post(url, {"action": "password", "password": "12345678"})
    assert refused.status_code == 400
    assert "密码：这个密码太常见了。" in refused.content.decode()

    assert client.post(url, {"action": "rename", "display_name": "小李"}).status_code == 302
    assert client.post(url, {"action": "password", "password": "Night-shift-88"}).status_code == 302
    asked = client.post(url, {"action": "disable"})
    assert asked.status_code == 200
    assert "确认停用 小李？停用后它无法再登录本店铺" in asked.content.decode()
    sub.refresh_from_db()
    assert sub.is_active  # a bare POST asks first
    assert client.post(url, {"action": "disable", "confirm": "1"}).status_code == 302
    sub.refresh_from_db()
    assert sub.display_name == "小李" and not sub.is_active
    assert sub.user.check_password("Night-shift-88")
    assert "已停用" in client.get(url).content.decode()

    other = Client()
    other.force_login(shop_b.memberships.get(role="main").user)
    assert other.get(url).status_code == 404
    assert other.post(url, {"action": "enable"}).status_code == 404
    sub.refresh_from_db()
    assert not sub.is_active


def test_creating_on_the_page_shows_the_password_problem_next_to_the_field(shop_a):
    client = Client()
    client.force_login(shop_a.memberships.get(role="main").user)
    response = client.post(
        "/console/accounts/",
        {"username": "packer9", "password": "12345678", "permissions": [perms.PRINT]},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="field-error-password"' in html and "密码：密码只包含数字。" in html
    assert not Membership.objects.filter(user__username="packer9").exists()
