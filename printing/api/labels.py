"""Labels and templates: ``waybills/{no}/label/``, ``templates/`` (filled in below)."""

urlpatterns: list = []
