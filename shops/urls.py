from django.urls import path

from shops import download_views, order_views, settings_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-shop/", views.switch_shop, name="switch_shop"),
    path("orders/", order_views.order_list, name="order_list"),
    path("orders/batch/", order_views.order_batch, name="order_batch"),
    path("orders/import/", order_views.order_import, name="order_import"),
    path(
        "orders/import/template.csv",
        order_views.order_import_template,
        name="order_import_template",
    ),
    path("orders/<int:order_id>/", order_views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/reveal/", order_views.order_reveal, name="order_reveal"),
    path("orders/<int:order_id>/<slug:action>/", order_views.order_action, name="order_action"),
    path("jobs/<int:job_id>/", order_views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/download/", order_views.job_download, name="job_download"),
    path("downloads/", download_views.download_list, name="downloads"),  # 下载中心
    path("addresses/", settings_views.address_list, name="address_list"),
    path("addresses/<int:address_id>/", settings_views.address_edit, name="address_edit"),
    path(
        "addresses/<int:address_id>/delete/", settings_views.address_delete, name="address_delete"
    ),
    path("regions/", settings_views.region_children, name="region_children"),
    path("accounts/", settings_views.account_list, name="account_list"),
    path("accounts/<int:membership_id>/", settings_views.account_update, name="account_update"),
]
