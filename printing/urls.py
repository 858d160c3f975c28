"""Console pages of the printing app (namespace ``console``)."""

from printing.views import designer, printers

urlpatterns = designer.urlpatterns + printers.urlpatterns
