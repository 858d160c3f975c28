"""``/api/v1/webhooks/``: endpoints, their deliveries, rotate, test, resend."""

from django.urls import path

from events.api import webhooks as views

urlpatterns = [
    path("webhooks/", views.WebhookListView.as_view(), name="api-webhook-list"),
    path(
        "webhooks/event-types/",
        views.WebhookEventTypeListView.as_view(),
        name="api-webhook-event-types",
    ),
    path(
        "webhooks/<int:endpoint_id>/", views.WebhookDetailView.as_view(), name="api-webhook-detail"
    ),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret/",
        views.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:endpoint_id>/test/",
        views.WebhookTestView.as_view(),
        name="api-webhook-test",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/",
        views.WebhookDeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        views.WebhookDeliveryDetailView.as_view(),
        name="api-webhook-delivery",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        views.WebhookDeliveryResendView.as_view(),
        name="api-webhook-delivery-resend",
    ),
]
