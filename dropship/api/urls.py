from django.urls import path

from dropship.api import views as v

urlpatterns = [
    path("dropship/profile/", v.ProfileView.as_view(), name="api-dropship-profile"),
    path("dropship/bindings/", v.BindingListView.as_view(), name="api-dropship-bindings"),
    path(
        "dropship/bindings/<int:binding_id>/confirm/",
        v.BindingConfirmView.as_view(),
        name="api-dropship-binding-confirm",
    ),
    path(
        "dropship/bindings/<int:binding_id>/reject/",
        v.BindingRejectView.as_view(),
        name="api-dropship-binding-reject",
    ),
    path(
        "dropship/bindings/<int:binding_id>/unbind/",
        v.BindingUnbindView.as_view(),
        name="api-dropship-binding-unbind",
    ),
    path("dropship/allocations/", v.AllocationListView.as_view(), name="api-dropship-allocations"),
    path(
        "dropship/allocations/<int:allocation_id>/cancel/",
        v.AllocationCancelView.as_view(),
        name="api-dropship-allocation-cancel",
    ),
    path(
        "dropship/factory-orders/",
        v.FactoryOrderListView.as_view(),
        name="api-dropship-factory-orders",
    ),
    path(
        "dropship/factory-orders/ship/",
        v.FactoryOrderBatchShipView.as_view(),
        name="api-dropship-factory-orders-ship",
    ),
    path(
        "dropship/factory-orders/<int:factory_order_id>/",
        v.FactoryOrderDetailView.as_view(),
        name="api-dropship-factory-order",
    ),
    path(
        "dropship/factory-orders/<int:factory_order_id>/waybill/",
        v.FactoryOrderWaybillView.as_view(),
        name="api-dropship-factory-order-waybill",
    ),
    path(
        "dropship/factory-orders/<int:factory_order_id>/tracking/",
        v.FactoryOrderTrackingView.as_view(),
        name="api-dropship-factory-order-tracking",
    ),
    path(
        "dropship/factory-orders/<int:factory_order_id>/label/",
        v.FactoryOrderLabelView.as_view(),
        name="api-dropship-factory-order-label",
    ),
    path(
        "dropship/factory-orders/<int:factory_order_id>/ship/",
        v.FactoryOrderShipView.as_view(),
        name="api-dropship-factory-order-ship",
    ),
    path("dropship/prices/", v.PriceView.as_view(), name="api-dropship-prices"),
    path("dropship/statements/", v.StatementListView.as_view(), name="api-dropship-statements"),
    path(
        "dropship/statements/<int:statement_id>/",
        v.StatementDetailView.as_view(),
        name="api-dropship-statement",
    ),
    path(
        "dropship/statements/<int:statement_id>/download/",
        v.StatementDownloadView.as_view(),
        name="api-dropship-statement-download",
    ),
]
