"""Console pages of the waybill engine (appended to the "console" namespace)."""

from django.urls import path

from waybills.views import batch, exceptions, orders, receiver, scan, usage

urlpatterns = [
    path("scan/", scan.scan_page, name="scan"),
    path("waybills/", usage.waybill_usage, name="waybill_usage"),
    path("waybills/reconciliation/", usage.reconciliation_start, name="waybill_reconciliation"),
    path("waybills/exceptions/", exceptions.exception_list, name="waybill_exceptions"),
    path("waybills/violations/", exceptions.violation_list, name="waybill_violations"),
    path(
        "waybills/exceptions/retry-all/",
        exceptions.exception_retry_all,
        name="waybill_exception_retry_all",
    ),
    path(
        "waybills/exceptions/<int:exception_id>/retry/",
        exceptions.exception_retry,
        name="waybill_exception_retry",
    ),
    path("waybills/batch/", batch.waybill_batch, name="waybill_batch"),
    path("waybills/batch/controls/", batch.waybill_batch_controls, name="waybill_batch_controls"),
    path("waybills/batch/ship/", batch.waybill_batch_ship, name="waybill_batch_ship"),
    path(
        "waybills/batch/<int:job_id>/",
        batch.waybill_batch_progress,
        name="waybill_batch_progress",
    ),
    path("waybills/orders/<int:order_id>/", orders.order_waybills, name="order_waybills"),
    path(
        "waybills/orders/<int:order_id>/allocate/",
        orders.order_waybill_allocate,
        name="order_waybill_allocate",
    ),
    path(
        "waybills/orders/<int:order_id>/ship/",
        orders.order_waybill_ship,
        name="order_waybill_ship",
    ),
    path(
        "waybills/orders/<int:order_id>/receiver/",
        receiver.order_receiver_edit,
        name="order_receiver_edit",
    ),
    path("waybills/receiver-parse/", receiver.receiver_paste_parse, name="receiver_paste_parse"),
    path("waybills/<str:waybill_no>/cancel/", usage.waybill_cancel, name="waybill_cancel"),
]
