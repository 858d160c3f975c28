"""The factory portal (namespace ``factory``, mounted at ``/factory/``)."""

from django.urls import path

from dropship import views

app_name = "factory"

urlpatterns = [
    path("", views.home, name="home"),
    path("merchants/", views.binding_list, name="bindings"),
    path("merchants/<int:binding_id>/<slug:action>/", views.binding_action, name="binding_action"),
    path("orders/", views.order_list, name="orders"),
    path("orders/print/", views.order_print, name="order_print"),
    path("orders/ship/", views.order_ship_batch, name="order_ship_batch"),
    path("orders/<int:factory_order_id>/return/", views.order_return, name="order_return"),
    path("orders/<int:factory_order_id>/ship/", views.order_ship, name="order_ship"),
    path("prices/", views.price_list, name="prices"),
    path("statements/", views.statement_list, name="statements"),
    path(
        "statements/<int:statement_id>/download/",
        views.statement_download,
        name="statement_download",
    ),
]
