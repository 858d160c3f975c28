"""Console pages of the printing app (namespace ``console``)."""

from printing.views import designer, order_print, printers

urlpatterns = designer.urlpatterns + printers.urlpatterns + order_print.urlpatterns
