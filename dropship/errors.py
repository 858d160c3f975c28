"""Dropship refusals (stable codes; messages in the wording merchants know)."""

from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError


class IdentityLocked(AppError):
    code = "DROPSHIP_IDENTITY_LOCKED"
    status = 409
    message = _(
        "The dropship identity can no longer be changed: this shop has sent or received a "
        "binding request."
    )


class NotAFactory(AppError):
    code = "NOT_A_FACTORY"
    status = 422
    message = _(
        "请输入正确的厂家店铺ID: shop %(shop_no)s is not a factory. The factory must choose "
        "“I am a dropship factory” first."
    )


class NotAMerchant(AppError):
    code = "PERMISSION_DENIED"
    status = 403
    message = _("Only a shop with the %(identity)s dropship identity can do this.")


class BindingNotActive(AppError):
    code = "BINDING_NOT_ACTIVE"
    status = 409
    message = _("There is no active binding between this merchant and this factory.")


class BindingExists(AppError):
    code = "BINDING_EXISTS"
    status = 409
    message = _("This factory is already bound to your shop.")
    pending_message = _(
        "A binding request to this factory is already waiting for the factory to confirm it."
    )


class BindingStateConflict(AppError):
    code = "BINDING_STATE_CONFLICT"
    status = 409
    message = _("The binding is %(status)s; this action is not possible now.")


class OrderNotSynced(AppError):
    code = "ORDER_NOT_SYNCED"
    status = 422
    message = _(
        "Order %(order_no)s was created before the binding with this factory; only orders "
        "created after it can be handed over."
    )


class ItemAlreadyAllocated(AppError):
    code = "ITEM_ALREADY_ALLOCATED"
    status = 409
    message = _("This item is already allocated to another factory; cancel that first.")


class AllocationNotCancellable(AppError):
    code = "ALLOCATION_NOT_CANCELLABLE"
    status = 409
    message = _("The allocation cannot be cancelled: %(reason)s.")


class AllocationCancelled(AppError):
    code = "ALLOCATION_CANCELLED"
    status = 409
    message = _("The merchant cancelled this allocation.")


class NotReturned(AppError):
    code = "WAYBILL_NOT_RETURNED"
    status = 409
    message = _("The factory has not returned a tracking number for this order yet.")


class StatementLimit(AppError):
    code = "STATEMENT_LIMIT"
    status = 429
    message = _(
        "同一个厂家每天最多生成3次对账单,每次的间隔不能小于10分钟 (at most %(per_day)s "
        "statements per factory a day, at least %(minutes)s minutes apart)."
    )
