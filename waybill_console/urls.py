from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import carriers.urls
import dropship.console_urls
import events.notification_urls
import events.urls
import printing.urls
import shops.urls
import waybills.urls
from shops.views import LoginView
from waybill_console import views

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("waybills.api.urls")),
    path("", include("printing.api.urls")),
    path("", include("shops.api.urls")),
    path("", include("carriers.api.urls")),
    path("", include("dropship.api.urls")),
    path("", include("events.api.urls")),
]

# the merchant console: one namespace, pages from each app
console_urls = (
    shops.urls.urlpatterns
    + carriers.urls.urlpatterns
    + waybills.urls.urlpatterns
    + printing.urls.urlpatterns
    + dropship.console_urls.urlpatterns
    + events.urls.urlpatterns
    + events.notification_urls.urlpatterns
)

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include((console_urls, "console"))),
    path("factory/", include("dropship.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler404 = "waybill_console.views.not_found"
handler400 = "waybill_console.views.bad_request"
handler500 = "waybill_console.views.server_error"

admin.site.site_header = "Waybill Console 运营后台"
admin.site.site_title = "Waybill Console"
