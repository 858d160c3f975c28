"""API paths of the printing app: labels and templates, printers, print jobs, agents."""

from printing.api import jobs, labels

urlpatterns = labels.urlpatterns + jobs.urlpatterns
