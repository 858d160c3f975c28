"""Console pages (see printing/urls.py)."""

urlpatterns: list = []
