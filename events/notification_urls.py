"""Console pages of notifications (the bell), in the ``console`` namespace (factories too)."""

from django.urls import path

from events import notification_views as v

urlpatterns = [
    path("notifications/", v.notification_list, name="notification_list"),
    path("notifications/open/", v.notification_open, name="notification_open"),
    path("notifications/read-all/", v.notification_read_all, name="notification_read_all"),
]
