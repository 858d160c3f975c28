from django.apps import AppConfig


class DropshipConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dropship"

    def ready(self):
        from dropship.services.allocation import allocations_cancel_for_order
        from shops.services import orders

        if allocations_cancel_for_order not in orders.ORDER_BLOCK_HANDLERS:
            orders.ORDER_BLOCK_HANDLERS.append(allocations_cancel_for_order)
