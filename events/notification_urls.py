"""Console pages of notifications (the bell), in the ``console`` namespace (factories too)."""

urlpatterns: list = []
