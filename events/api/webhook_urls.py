"""``/api/v1/webhooks/``: endpoints, their deliveries, rotate, test, resend."""

urlpatterns: list = []
