"""Printers, print jobs and the print agent's endpoints (filled in with the print jobs)."""

urlpatterns: list = []
