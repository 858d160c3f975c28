from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError


class BranchPerAddressLimit(AppError):
    code = "BRANCH_PER_ADDRESS_LIMIT"
    status = 409
    message = _("Each shipping address can open only one branch per carrier.")


class BranchPerCarrierLimit(AppError):
    code = "BRANCH_PER_CARRIER_LIMIT"
    status = 409
    message = _("A merchant can apply to at most %(limit)s branches of one carrier.")


class MonthlyAccountInvalid(AppError):
    code = "MONTHLY_ACCOUNT_INVALID"
    status = 422
    message = _("The merchant code does not exist or the monthly account is invalid.")


class SecretKeyMissing(AppError):
    code = "SECRET_KEY_MISSING"
    status = 422
    message = _(
        "No secret key was generated for this customer; ask the branch to generate one "
        "and try again."
    )


class SubscriptionNotActive(AppError):
    code = "SUBSCRIPTION_NOT_ACTIVE"
    status = 409
    message = _("The e-waybill service is %(status)s, not active.")


class SubscriptionExpiring(AppError):
    code = "SUBSCRIPTION_EXPIRING"
    status = 409
    message = _(
        "The service is expiring (即将过期): it cannot be set as default or re-applied; "
        "cancel it and apply again."
    )


class QuotaInsufficient(AppError):
    code = "QUOTA_INSUFFICIENT"
    status = 422
    message = _("Not enough waybill numbers left; contact the branch to buy more.")
