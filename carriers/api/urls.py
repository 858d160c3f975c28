from django.urls import path

from carriers.api import views as v

urlpatterns = [
    path("carriers/", v.CarrierListView.as_view(), name="api-carrier-list"),
    path("branches/", v.BranchSearchView.as_view(), name="api-branch-search"),
    path("subscriptions/", v.SubscriptionListView.as_view(), name="api-subscription-list"),
    path(
        "subscriptions/<int:subscription_id>/",
        v.SubscriptionDetailView.as_view(),
        name="api-subscription-detail",
    ),
    path("subscriptions/<int:subscription_id>/cancel/", v.SubscriptionCancelView.as_view()),
    path(
        "subscriptions/<int:subscription_id>/set-default/", v.SubscriptionSetDefaultView.as_view()
    ),
    path("subscriptions/<int:subscription_id>/reapply/", v.SubscriptionReapplyView.as_view()),
    path("subscriptions/<int:subscription_id>/share/", v.SubscriptionShareView.as_view()),
    path("subscriptions/<int:subscription_id>/ledger/", v.SubscriptionLedgerView.as_view()),
    path("carrier/subscriptions/<int:subscription_id>/approve/", v.CarrierApproveView.as_view()),
    path("carrier/subscriptions/<int:subscription_id>/reject/", v.CarrierRejectView.as_view()),
    path("carrier/subscriptions/<int:subscription_id>/recharge/", v.CarrierRechargeView.as_view()),
    path(
        "carrier/subscriptions/<int:subscription_id>/mark-expiring/",
        v.CarrierMarkExpiringView.as_view(),
    ),
]
