"""Admin lists scoped like every other door.

Superusers (the operator's ops staff) see every shop. A staff user who is also a
member of shops sees only the shop the session switched to.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class ShopScopedAdmin(admin.ModelAdmin):
    #: path from the model to its shop, e.g. "shop" or "order__shop"
    shop_path = "shop"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        shop = getattr(request, "shop", None)
        if not shop:
            return qs.none()
        return qs.filter(**{self.shop_path: shop})


class ReadOnlyAdminMixin:
    """Records the system writes (audits, events, reservations, call logs): nobody adds,
    changes or deletes them from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyScopedAdmin(ReadOnlyAdminMixin, ShopScopedAdmin):
    """A scoped, read-only list (see :class:`ReadOnlyAdminMixin`)."""


class ActorNameAdminMixin:
    """Shows a record's ``actor`` string (``user:wang``, ``token#9``, ``system``) by name,
    as ``actor_name``: list it in ``readonly_fields`` and exclude ``actor``."""

    @admin.display(description=_("actor"))
    def actor_name(self, obj):
        from waybill_console.actors import actor_names

        return actor_names([obj.actor], shop=getattr(obj, "shop", None))[obj.actor]


def with_actor_name(fields: list[str]) -> list[str]:
    """``fields`` with ``actor`` shown by name (:class:`ActorNameAdminMixin`)."""
    return ["actor_name" if f == "actor" else f for f in fields]
