"""``/api/v1/webhooks/`` and ``/api/v1/notifications/``."""

from events.api import notification_urls, webhook_urls

urlpatterns = webhook_urls.urlpatterns + notification_urls.urlpatterns
