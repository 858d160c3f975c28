from django.apps import AppConfig


class DropshipConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dropship"

    def ready(self):
        from dropship.selectors import on_behalf_waybills
        from dropship.services.allocation import allocations_cancel_for_order
        from shops.services import orders
        from waybills import selectors as waybill_selectors

        if allocations_cancel_for_order not in orders.ORDER_BLOCK_HANDLERS:
            orders.ORDER_BLOCK_HANDLERS.append(allocations_cancel_for_order)
        if on_behalf_waybills not in waybill_selectors.ON_BEHALF_ACCESS:
            waybill_selectors.ON_BEHALF_ACCESS.append(on_behalf_waybills)
