"""Console pages of the waybill engine (appended to the "console" namespace)."""

from django.urls import path

from waybills import views

urlpatterns = [
    path("waybills/", views.waybill_usage, name="waybill_usage"),
    path("waybills/reconciliation/", views.reconciliation_start, name="waybill_reconciliation"),
    path("waybills/exceptions/", views.exception_list, name="waybill_exceptions"),
    path("waybills/violations/", views.violation_list, name="waybill_violations"),
    path(
        "waybills/exceptions/retry-all/",
        views.exception_retry_all,
        name="waybill_exception_retry_all",
    ),
    path(
        "waybills/exceptions/<int:exception_id>/retry/",
        views.exception_retry,
        name="waybill_exception_retry",
    ),
    path("waybills/batch/", views.waybill_batch, name="waybill_batch"),
    path("waybills/batch/controls/", views.waybill_batch_controls, name="waybill_batch_controls"),
    path("waybills/batch/ship/", views.waybill_batch_ship, name="waybill_batch_ship"),
    path(
        "waybills/batch/<int:job_id>/",
        views.waybill_batch_progress,
        name="waybill_batch_progress",
    ),
    path("waybills/orders/<int:order_id>/", views.order_waybills, name="order_waybills"),
    path(
        "waybills/orders/<int:order_id>/allocate/",
        views.order_waybill_allocate,
        name="order_waybill_allocate",
    ),
    path(
        "waybills/orders/<int:order_id>/ship/",
        views.order_waybill_ship,
        name="order_waybill_ship",
    ),
    path("waybills/<str:waybill_no>/cancel/", views.waybill_cancel, name="waybill_cancel"),
]
