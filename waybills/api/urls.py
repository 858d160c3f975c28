from django.urls import path

from waybills.api import views as v
from waybills.api.push_kuaidi100 import Kuaidi100PushView
from waybills.api.push_sf import SFRoutePushView

urlpatterns = [
    path("waybills/", v.WaybillListView.as_view(), name="api-waybill-list"),
    path("waybills/batch/", v.WaybillBatchView.as_view(), name="api-waybill-batch"),
    path("waybills/bulk/", v.WaybillBulkView.as_view(), name="api-waybill-bulk"),
    path("waybills/screen/", v.ScreenView.as_view(), name="api-waybill-screen"),
    path("waybills/usage/daily/", v.UsageDailyView.as_view(), name="api-waybill-usage-daily"),
    path("waybills/<str:waybill_no>/", v.WaybillDetailView.as_view(), name="api-waybill-detail"),
    path("waybills/<str:waybill_no>/cancel/", v.WaybillCancelView.as_view()),
    path("waybills/<str:waybill_no>/packages/", v.WaybillPackagesView.as_view()),
    path("waybill-exceptions/", v.ExceptionListView.as_view(), name="api-exception-list"),
    path("waybill-exceptions/retry-all/", v.ExceptionRetryAllView.as_view()),
    path("waybill-exceptions/<int:exception_id>/retry/", v.ExceptionRetryView.as_view()),
    path("violations/", v.ViolationListView.as_view(), name="api-violation-list"),
    path("carrier/tracking-events/", v.TrackingEventView.as_view(), name="api-tracking-events"),
    path("carrier/push/kuaidi100/", Kuaidi100PushView.as_view(), name="api-carrier-push-kuaidi100"),
    path("carrier/push/sf/", SFRoutePushView.as_view(), name="api-carrier-push-sf"),
    path("orders/<int:order_id>/ship/", v.OrderShipView.as_view(), name="api-order-ship"),
    path("orders/batch-ship/", v.OrderBatchShipView.as_view(), name="api-order-batch-ship"),
    path("reconciliations/", v.ReconciliationListView.as_view(), name="api-reconciliation-list"),
    path("reconciliations/<int:job_id>/", v.ReconciliationDetailView.as_view()),
    path("reconciliations/<int:job_id>/download/", v.ReconciliationDownloadView.as_view()),
]
