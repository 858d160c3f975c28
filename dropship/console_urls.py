"""The merchant's dropship pages, appended to the console namespace."""

from django.urls import path

from dropship import console_views as views

urlpatterns = [
    path("dropship/", views.dropship_home, name="dropship_home"),
    path("dropship/factories/", views.binding_list, name="dropship_bindings"),
    path("dropship/factories/bind/", views.binding_request, name="dropship_binding_request"),
    path(
        "dropship/factories/<int:binding_id>/unbind/",
        views.binding_unbind,
        name="dropship_binding_unbind",
    ),
    path("dropship/orders/", views.order_list, name="dropship_orders"),
    path("dropship/orders/allocate/", views.allocate, name="dropship_allocate"),
    path(
        "dropship/allocations/<int:allocation_id>/cancel/",
        views.allocation_cancel,
        name="dropship_allocation_cancel",
    ),
    path("dropship/shipments/ship/", views.ship_batch, name="dropship_ship_batch"),
    path("dropship/shipments/<int:factory_order_id>/ship/", views.ship, name="dropship_ship"),
    path("dropship/statements/", views.statement_list, name="dropship_statements"),
    path(
        "dropship/statements/<int:statement_id>/download/",
        views.statement_download,
        name="dropship_statement_download",
    ),
]
