from django.urls import path

from carriers import views as carrier_views

urlpatterns = [
    path("waybill-service/", carrier_views.subscription_list, name="subscription_list"),
    path("waybill-service/apply/", carrier_views.subscription_apply, name="subscription_apply"),
    path(
        "waybill-service/agreement/",
        carrier_views.subscription_agreement,
        name="subscription_agreement",
    ),
    path(
        "waybill-service/<int:subscription_id>/share/",
        carrier_views.subscription_share,
        name="subscription_share",
    ),
    path(
        "waybill-service/<int:subscription_id>/<slug:action>/",
        carrier_views.subscription_action,
        name="subscription_action",
    ),
    path("branches/", carrier_views.branch_search, name="branch_search"),
]
