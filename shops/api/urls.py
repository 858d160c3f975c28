from django.urls import path

from shops.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("addresses/", views.AddressListView.as_view(), name="api-address-list"),
    path(
        "addresses/<int:address_id>/", views.AddressDetailView.as_view(), name="api-address-detail"
    ),
    path("orders/", views.OrderListView.as_view(), name="api-order-list"),
    path("orders/export/", views.OrderExportView.as_view(), name="api-order-export"),
    path("orders/import/", views.OrderImportView.as_view(), name="api-order-import"),
    path("orders/<int:order_id>/", views.OrderDetailView.as_view(), name="api-order-detail"),
    path("orders/<int:order_id>/reveal/", views.OrderRevealView.as_view(), name="api-order-reveal"),
    path(
        "orders/<int:order_id>/after-sale/",
        views.OrderAfterSaleView.as_view(),
        name="api-order-after-sale",
    ),
    path(
        "orders/<int:order_id>/after-sale/close/",
        views.OrderCloseAfterSaleView.as_view(),
        name="api-order-after-sale-close",
    ),
    path(
        "orders/<int:order_id>/change-address/",
        views.OrderChangeAddressView.as_view(),
        name="api-order-change-address",
    ),
    path(
        "orders/<int:order_id>/cancel-request/",
        views.OrderCancelRequestView.as_view(),
        name="api-order-cancel-request",
    ),
    path("orders/<int:order_id>/cancel/", views.OrderCancelView.as_view(), name="api-order-cancel"),
    path("orders/<int:order_id>/pay/", views.OrderPayView.as_view(), name="api-order-pay"),
    path(
        "orders/<int:order_id>/reroute/", views.OrderRerouteView.as_view(), name="api-order-reroute"
    ),
    path("jobs/<int:job_id>/", views.JobDetailView.as_view(), name="api-job-detail"),
    path("jobs/<int:job_id>/download/", views.JobDownloadView.as_view(), name="api-job-download"),
]
