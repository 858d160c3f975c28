"""``/api/v1/notifications/``: the bell for API clients."""

from django.urls import path

from events.api import notifications as v

urlpatterns = [
    path("notifications/", v.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read/", v.NotificationReadView.as_view(), name="api-notifications-read"),
]
