from django.utils.translation import gettext_lazy as _

from waybill_console.errors import AppError, PermissionDenied


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
    message = _(
        "The merchant code does not exist or the monthly account is invalid; check with the "
        "logistics company."
    )


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


class CancelLimitReached(AppError):
    """The cancel cap (:mod:`carriers.quota.cancel_cap`), counted per merchant per branch."""

    code = "CANCEL_LIMIT_REACHED"
    status = 409
    message = _("Your account has reached the limit of cancelled e-waybills.")


class AddressUnparseable(AppError):
    code = "ADDRESS_UNPARSEABLE"
    status = 422
    message = _("Screening error (1014): GIS address parsing failed.")


class ScreenNoAttribute(AppError):
    code = "SCREEN_NO_ATTRIBUTE"
    status = 422
    message = _("Screening error (1012): no delivery attribute matches; cannot carry.")


class ScreenPartialDelivery(AppError):
    code = "SCREEN_PARTIAL_DELIVERY"
    status = 422
    message = _("Screening error (1022): partial delivery at the 4th-level address; cannot carry.")


class ScreenNotFullTerritory(AppError):
    code = "SCREEN_NOT_FULL_TERRITORY"
    status = 422
    message = _("Screening error (1023): not full-territory delivery; cannot carry.")


class OutOfRange(AppError):
    code = "OUT_OF_RANGE"
    status = 422
    message = _("Out of the delivery range; cannot carry.")


class ServiceOutOfRange(AppError):
    code = "SERVICE_OUT_OF_RANGE"
    status = 422
    message = _("Beyond the value-added service range.")


class ServiceNotOpened(AppError):
    code = "SERVICE_NOT_OPENED"
    status = 422
    message = _("(8057) The express type is empty or not configured.")


class GatewayRateLimited(AppError):
    code = "RATE_LIMITED"
    status = 429
    message = _("Too many requests, please try again later.")


class GatewayUnavailable(AppError):
    """The carrier's API failed again and again: its circuit breaker is open, so the call
    failed at once without reaching the carrier (definite: nothing to settle)."""

    code = "GATEWAY_UNAVAILABLE"
    status = 503
    message = _("The carrier's service is unavailable; please try again later.")


class AllocationTimeout(AppError):
    code = "ALLOCATION_TIMEOUT"
    status = 504
    message = _("Getting a waybill number timed out, please try again later.")
    outcome_unknown = True  # the carrier may have issued the number: ask again, same id


class AllocationFailed(AppError):
    code = "ALLOCATION_FAILED"
    status = 503
    message = _("Getting a waybill number failed.")


class GatewaySignatureInvalid(AppError):
    """The carrier's API refused the platform's own signature (Kuaidi100 30002, an SF
    A-code): the operator's key/secret (check word) in the gateway configuration is wrong.
    Nothing was issued; ops must correct the configuration (``manage.py carrier_gateway``)."""

    code = "GATEWAY_SIGNATURE_INVALID"
    status = 502
    message = _(
        "The carrier's API refused the platform's signature: the %(gateway)s key or secret "
        "set up by the platform is wrong. Contact the platform's support."
    )


class CarrierRefused(AppError):
    """The carrier's API refused a request other than an allocation (a cancel, a tracking
    subscription) with its own reason, passed on in its words."""

    code = "CARRIER_REFUSED"
    status = 422
    message = _("The carrier refused the request: %(reason)s")


class BranchCustomerMismatch(AppError):
    code = "BRANCH_CUSTOMER_MISMATCH"
    status = 422
    message = _(
        "The branch and the customer name do not match; check with the branch and try again."
    )


class CarrierConfigurationRequired(AppError):
    """Yunda: the number can be drawn but the label cannot, until the branch sets the account
    up for system access (系统接入)."""

    code = "CARRIER_CONFIGURATION_REQUIRED"
    status = 422
    message = _("Contact Yunda headquarters for the related configuration.")


class MerchantCodeMismatch(AppError):
    """JD: the merchant code does not match the account's JosPin value point."""

    code = "MERCHANT_CODE_MISMATCH"
    status = 422
    message = _("The merchant code does not match the JosPin value point.")


class ServiceProviderCreationFailed(AppError):
    """STO: the monthly account, its password or the branch name is wrong at the carrier."""

    code = "SERVICE_PROVIDER_CREATION_FAILED"
    status = 422
    message = _("Creating the service provider failed.")


class ShareMainAccountOnly(PermissionDenied):
    """共享多店发货 is the owner's decision: the main account (or a token it gave that right)."""

    message = _("Only the shop's main account can share a service with other shops.")
