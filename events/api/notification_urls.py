"""``/api/v1/notifications/``: the bell for API clients."""

urlpatterns: list = []
