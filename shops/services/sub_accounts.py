"""Sub-accounts: created with permissions, renamed, given a new password, disabled.

Whoever holds ``account.manage`` (the main account) does all of it, for the sub-accounts of
its own shop only (another shop's is a 404). Each change is written to Django's admin log
(``LogEntry``) against the membership, by the person who made it: the trail the admin keeps
for the changes ops make to accounts there, so the membership's history in the admin shows
both."""

from __future__ import annotations

import json
import logging

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from shops.models import Membership
from shops.services.accounts import password_problems, user_create
from waybill_console import permissions as perms
from waybill_console.errors import PermissionDenied, ValidationError
from waybill_console.tenancy import Actor

logger = logging.getLogger("shops.accounts")

DISPLAY_NAME_MAX = Membership._meta.get_field("display_name").max_length


def _display_name_clean(value: str | None) -> str:
    name = (value or "").strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise ValidationError.for_fields(
            display_name=_("Name: at most %(limit)s characters.") % {"limit": DISPLAY_NAME_MAX}
        )
    return name


def _permissions_clean(permissions: list[str]) -> list[str]:
    if any(p not in perms.GRANTABLE for p in permissions):
        raise ValidationError.for_fields(
            permissions=_("Permissions: some of the chosen permissions cannot be granted.")
        )
    return sorted(set(permissions))


def _audit(actor: Actor, membership: Membership, flag: int, message: list[dict]) -> None:
    """One admin-log row: who changed which account, and what (admin's JSON messages,
    shown translated in the membership's history)."""
    if actor.user is None:  # no person to name: a system actor
        logger.info("account %s changed by %s: %s", membership.pk, actor.describe(), message)
        return
    LogEntry.objects.log_actions(
        user_id=actor.user.pk,
        queryset=[membership],
        action_flag=flag,
        change_message=json.dumps(message, ensure_ascii=False),
        single_object=True,
    )


def _permission_changes(before: list[str], after: list[str]) -> list[dict]:
    """Granted and withdrawn permissions as the admin log's added / deleted entries."""
    granted = [p for p in after if p not in before]
    withdrawn = [p for p in before if p not in after]
    return [{"added": {"name": "permission", "object": perms.label(p)}} for p in granted] + [
        {"deleted": {"name": "permission", "object": perms.label(p)}} for p in withdrawn
    ]


def sub_account_create(
    *, actor: Actor, username: str, password: str, permissions: list[str], display_name: str = ""
) -> Membership:
    """The main account adds a sub-account with the given named permissions. The password
    passes the password validators (``password_problems``)."""
    actor.require(perms.ACCOUNT_MANAGE)
    shop = actor.require_shop()
    granted = _permissions_clean(permissions)
    name = _display_name_clean(display_name)
    with transaction.atomic():
        user = user_create(username=username, password=password)
        membership = Membership.objects.create(
            user=user, shop=shop, role=Membership.Role.SUB, permissions=granted, display_name=name
        )
        _audit(actor, membership, ADDITION, [{"added": {}}, *_permission_changes([], granted)])
    return membership


def _sub_account_locked(actor: Actor, membership_id: int) -> Membership:
    from shops.selectors import sub_account_get

    membership = sub_account_get(actor=actor, membership_id=membership_id)
    return Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)


def sub_account_update(
    *,
    actor: Actor,
    membership_id: int,
    permissions: list[str] | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
) -> Membership:
    """Set a sub-account's permissions, rename it (its display name; empty shows the
    username), or disable / enable it. A disabled account finds no shop at its next
    request. Locks the membership row for the change and its audit row."""
    actor.require(perms.ACCOUNT_MANAGE)
    granted = _permissions_clean(permissions) if permissions is not None else None
    name = _display_name_clean(display_name) if display_name is not None else None
    with transaction.atomic():
        membership = _sub_account_locked(actor, membership_id)
        changes: list[dict] = []
        if granted is not None and granted != sorted(membership.permissions):
            changes += _permission_changes(sorted(membership.permissions), granted)
            membership.permissions = granted
        if is_active is not None and is_active != membership.is_active:
            changes.append({"changed": {"fields": ["active"]}})
            membership.is_active = is_active
        if name is not None and name != membership.display_name:
            changes.append({"changed": {"fields": ["display name"]}})
            membership.display_name = name
        if changes:
            membership.save(update_fields=["permissions", "is_active", "display_name"])
            _audit(actor, membership, CHANGE, changes)
    return membership


def sub_account_password_reset(*, actor: Actor, membership_id: int, password: str) -> Membership:
    """Give a sub-account a new password (it passes the password validators). Its sessions
    end: Django checks each session against the password it was opened with. Refused for a
    login that also belongs to another shop or to the operator's staff, which only its
    owner may change."""
    actor.require(perms.ACCOUNT_MANAGE)
    with transaction.atomic():
        membership = _sub_account_locked(actor, membership_id)
        user = membership.user
        shared = user.is_staff or user.is_superuser
        if shared or Membership.objects.filter(user=user).exclude(pk=membership.pk).exists():
            raise PermissionDenied(
                _(
                    "This login also belongs to another shop or to the operator; only its "
                    "owner can change its password."
                )
            )
        problems = password_problems(password=password, user=user)
        if problems:
            raise ValidationError.for_fields(password=problems)
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(actor, membership, CHANGE, [{"changed": {"fields": ["password"]}}])
    return membership
