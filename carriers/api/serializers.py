from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from carriers.models import Branch, Carrier, LedgerEntry, Subscription
from carriers.selectors import account_fields, cancellable_now


class CarrierSerializer(serializers.ModelSerializer):
    services = serializers.ListField(child=serializers.CharField(), help_text="e.g. insured")
    label_sizes = serializers.ListField(child=serializers.CharField(), help_text="e.g. 100x150")
    account_fields = serializers.SerializerMethodField(
        help_text="The account fields an application for this carrier must give, as this "
        "installation connects it: needs_monthly_account / needs_secret_key, plus what the "
        "configured carrier API orders numbers on (Kuaidi100: monthly_account and "
        "secret_key, the partner account the branch issued; SF: monthly_account)."
    )

    class Meta:
        model = Carrier
        fields = [
            "code",
            "name",
            "network_type",
            "needs_monthly_account",
            "needs_secret_key",
            "number_pattern",
            "number_example",
            "services",
            "label_sizes",
            "account_fields",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_account_fields(self, carrier: Carrier) -> list[str]:
        return [name for name, asked in account_fields(carrier=carrier).items() if asked]


class BranchSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")

    class Meta:
        model = Branch
        fields = [
            "code",
            "name",
            "carrier",
            "province",
            "city",
            "district",
            "region_code",
            "contact_name",
            "contact_phone",
        ]


class SubscriptionSerializer(serializers.ModelSerializer):
    carrier = serializers.CharField(source="carrier.code")
    branch = serializers.CharField(source="branch.code")
    branch_name = serializers.CharField(source="branch.name")
    address = serializers.IntegerField(source="address_id")
    shop_no = serializers.CharField(source="shop.shop_no")
    cancellable_now = serializers.SerializerMethodField()
    monthly_account = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "shop_no",
            "carrier",
            "branch",
            "branch_name",
            "address",
            "status",
            "is_default",
            "contact_name",
            "contact_phone",
            "monthly_account",
            "reject_reason",
            "balance",
            "allocated_total",
            "cancelled_total",
            "recycled_total",
            "printed_total",
            "cancellable_now",
            "created_at",
        ]

    def get_cancellable_now(self, obj) -> int:
        return cancellable_now(obj)

    def get_monthly_account(self, obj) -> str:
        value = obj.monthly_account
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:] if len(value) > 4 else value


class SubscriptionApplySerializer(serializers.Serializer):
    carrier = serializers.CharField()
    branch = serializers.CharField()
    address = serializers.IntegerField()
    contact_name = serializers.CharField(max_length=40)
    contact_phone = serializers.CharField(max_length=20)
    monthly_account = serializers.CharField(required=False, allow_blank=True, default="")
    secret_key = serializers.CharField(required=False, allow_blank=True, default="")
    agree = serializers.BooleanField()


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "at", "actor", "note", "reference"]


class RechargeSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=1_000_000)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ShareSerializer(serializers.Serializer):
    shops = serializers.ListField(child=serializers.CharField())
