from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from carriers import services
from carriers.models import (
    Branch,
    BranchCoverage,
    Carrier,
    GatewayCall,
    GatewayConfig,
    LedgerEntry,
    Reservation,
    Subscription,
)
from waybill_console.actors import actor_names
from waybill_console.admin_scoping import (
    ActorNameAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyScopedAdmin,
    ShopScopedAdmin,
    with_actor_name,
)
from waybill_console.errors import AppError, ValidationError
from waybill_console.tenancy import Actor

#: help for a write-only secret
KEEP_SECRET = _("Never shown again; leave empty to keep the current value.")


def _write_only(label, help_text=KEEP_SECRET):
    """A secret's form field: a password input that never renders the stored value."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "network_type",
        "needs_monthly_account",
        "needs_secret_key",
        "number_pattern",
    ]


class CoverageInline(admin.TabularInline):
    model = BranchCoverage
    extra = 0


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "carrier", "province", "city", "district", "contact_name"]
    list_filter = ["carrier", "province"]
    search_fields = ["code", "name"]
    inlines = [CoverageInline]


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    fields = ["at", "kind", "amount", "balance_after", "by", "note", "reference"]
    readonly_fields = fields
    ordering = ["-at", "-id"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("actor"))
    def by(self, entry):
        """Who moved the balance, by name (the branch, the member, 系统); each name is looked
        up once per page."""
        names = self.__dict__.setdefault("_names", {})
        if entry.actor not in names:
            names.update(actor_names([entry.actor], shop=entry.subscription.shop))
        return names[entry.actor]


def _ops(request) -> Actor:
    return Actor(shop=None, user=request.user, is_staff=True)


def _run(modeladmin, request, queryset, fn, done):
    """Apply ``fn`` to each selected subscription; ``done``: the message for how many
    succeeded (``%(count)s``); a refusal names the subscription and says why."""
    ok = 0
    for sub in queryset.select_related("shop", "carrier", "branch"):
        try:
            fn(_ops(request), sub)
            ok += 1
        except AppError as err:
            messages.error(
                request,
                _("%(subscription)s: %(message)s")
                % {"subscription": sub, "message": err.render_message()},
            )
    if ok:
        messages.success(request, done % {"count": ok})


@admin.action(description=_("Approve"))
def approve(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_approve(actor=a, subscription=s),
        _("%(count)s e-waybill services approved."),
    )


@admin.action(description=_("Reject"))
def reject(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_reject(
            actor=a, subscription=s, reason=str(_("Rejected by platform operations"))
        ),
        _("%(count)s e-waybill services rejected."),
    )


@admin.action(description=_("Mark expiring"))
def mark_expiring(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_mark_expiring(actor=a, subscription=s),
        _("%(count)s e-waybill services marked expiring."),
    )


@admin.action(description=_("Recharge 1,000 numbers"))
def recharge_1000(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset,
        lambda a, s: services.subscription_recharge(actor=a, subscription=s, count=1000),
        _("%(count)s e-waybill services recharged with 1,000 numbers."),
    )


class SubscriptionForm(forms.ModelForm):
    """The admin gives the model and the fields; the branch's secret key is write-only."""

    secret_key = _write_only(_("secret key"))

    def clean_secret_key(self):
        # empty: the current (sealed) key stays; a new one is encrypted on save
        return self.cleaned_data["secret_key"] or self.instance.secret_key or ""


@admin.register(Subscription)
class SubscriptionAdmin(ShopScopedAdmin):
    form = SubscriptionForm
    list_display = [
        "id",
        "shop",
        "carrier",
        "branch",
        "status",
        "is_default",
        "balance",
        "allocated_total",
        "cancelled_total",
        "recycled_total",
        "printed_total",
    ]
    list_filter = ["status", "carrier"]
    search_fields = ["shop__shop_no", "branch__code", "branch__name"]
    readonly_fields = [
        "balance",
        "allocated_total",
        "cancelled_total",
        "recycled_total",
        "printed_total",
        "status",
        "is_default",
    ]
    raw_id_fields = ["shop", "branch", "address"]
    actions = [approve, reject, mark_expiring, recharge_1000]
    inlines = [LedgerInline]


@admin.register(Reservation)
class ReservationAdmin(ActorNameAdminMixin, ReadOnlyScopedAdmin):
    """Quota held while a carrier is asked for numbers: ops see the attempts whose outcome
    is still unknown (state 预占) and what went wrong; the settling sweep resolves them."""

    list_display = [
        "carrier_order_id",
        "shop",
        "subscription",
        "order",
        "count",
        "charge",
        "state",
        "last_error",
        "created_at",
        "resolved_at",
    ]
    list_filter = ["state"]
    search_fields = ["carrier_order_id", "shop__shop_no"]
    readonly_fields = with_actor_name([f.name for f in Reservation._meta.fields])
    exclude = ["actor"]


class OpsOnlyAdmin(admin.ModelAdmin):
    """The operator's own settings and logs, which no shop owns: superusers only."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


class GatewayConfigForm(forms.ModelForm):
    """The secrets are write-only; the rules are :func:`carriers.services.gateway_config_check`
    (the same as ``manage.py carrier_gateway``)."""

    secret = _write_only(_("secret / check word"))
    callback_salt = _write_only(
        _("push salt"),
        help_text=_(
            "Never shown again; leave empty to keep the current value. Kuaidi100: made up at "
            "random when there is none. SF: the token of the push URL given to SF."
        ),
    )

    url = forms.URLField(
        label=_("order URL"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=_("Empty: the carrier's production URL."),
    )
    poll_url = forms.URLField(
        label=_("tracking subscription URL"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=_("Kuaidi100 only. Empty: the production URL."),
    )

    class Meta:
        model = GatewayConfig
        fields = ["carrier", "kind", "key", "secret", "url", "poll_url", "callback_salt"]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        carrier = data.get("carrier") or self.instance.carrier
        return {
            "carrier": carrier.code,
            "kind": data.get("kind") or "",
            "key": data.get("key") or "",
            "secret": data.get("secret") or None,
            "url": data.get("url") or "",
            "poll_url": data.get("poll_url") or "",
            "callback_salt": data.get("callback_salt") or None,
        }

    def clean(self):
        data = super().clean()
        if self.errors or not (data.get("carrier") or self.instance.carrier_id):
            return data
        try:
            services.gateway_config_check(**self.service_fields())
        except ValidationError as err:
            for field, problems in err.detail.items():
                self.add_error(field if field in self.fields else None, problems)
        return data


@admin.register(GatewayConfig)
class GatewayConfigAdmin(OpsOnlyAdmin):
    """Which gateway answers for a carrier; secrets write-only (never rendered back)."""

    form = GatewayConfigForm
    list_display = ["carrier", "kind", "masked_key", "secret_set", "url", "updated_at"]
    list_filter = ["kind"]

    def get_readonly_fields(self, request, obj=None):
        return ["carrier"] if obj is not None else []

    @admin.display(description=_("account key / partner id"))
    def masked_key(self, obj):
        return services.gateway_key_masked(obj.key)

    @admin.display(description=_("secret set"), boolean=True)
    def secret_set(self, obj):
        return bool(obj.secret)

    def save_model(self, request, obj, form, change):
        saved = services.gateway_configure(**form.service_fields())
        obj.pk, obj.secret, obj.callback_salt = saved.pk, saved.secret, saved.callback_salt


@admin.register(GatewayCall)
class GatewayCallAdmin(ReadOnlyAdminMixin, OpsOnlyAdmin):
    """Every call to a carrier's API (consumer data masked), for ops: read-only."""

    list_display = [
        "at",
        "kind",
        "operation",
        "carrier_order_id",
        "attempt",
        "http_status",
        "ok",
        "error",
        "seconds",
    ]
    list_filter = ["kind", "ok", "operation"]
    search_fields = ["=carrier_order_id"]
    show_full_result_count = False  # the log grows without bound: no COUNT(*) per page
    fields = [
        "at",
        "kind",
        "masked_account",
        "operation",
        "carrier_order_id",
        "url",
        "attempt",
        "http_status",
        "ok",
        "error",
        "seconds",
        "request",
        "response",
    ]
    readonly_fields = fields

    @admin.display(description=_("account"))
    def masked_account(self, obj):
        return services.gateway_key_masked(obj.account)
