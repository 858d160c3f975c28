"""Console pages of webhooks (推送地址), in the ``console`` namespace (factories too)."""

urlpatterns: list = []
