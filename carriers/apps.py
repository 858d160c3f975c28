from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CarriersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "carriers"
    verbose_name = _("Carriers and e-waybill services")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from carriers.gateways.builtin import coverage_forget
        from carriers.models import BranchCoverage

        # the screening cache of this process forgets a branch whose range changed
        for signal in (post_save, post_delete):
            signal.connect(
                lambda sender, instance, **kw: coverage_forget(instance.branch_id),
                sender=BranchCoverage,
                weak=False,
                dispatch_uid=f"coverage-forget-{signal}",
            )
        # this process reads a changed gateway configuration at once (others within seconds)
        from carriers.gateways import gateways_forget
        from carriers.models import GatewayConfig

        for signal in (post_save, post_delete):
            signal.connect(
                lambda sender, **kw: gateways_forget(),
                sender=GatewayConfig,
                weak=False,
                dispatch_uid=f"gateways-forget-{signal}",
            )
        # the carriers' API adapters, by GatewayConfig kind
        from carriers.gateways import kuaidi100, register_kind, sf

        register_kind(sf.KIND, sf.SFGateway)
        register_kind(kuaidi100.KIND, kuaidi100.Kuaidi100Gateway)  # every carrier, via 快递100
        # 概览's balances (shops never imports us)
        from carriers.overview import balance_figures
        from shops.overview import register_figures

        register_figures(balance_figures)

        # what pages call the fields this app's errors name
        from carriers.field_labels import LABELS as FIELD_LABELS
        from waybill_console.field_labels import register_field_labels

        register_field_labels(FIELD_LABELS)

        # ``branch:ZTO-331001`` by the branch's name (ledgers, history)
        from carriers.selectors import branch_names
        from waybill_console.actors import register_actor_names

        register_actor_names("branch:", branch_names)
