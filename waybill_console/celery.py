import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waybill_console.settings")

app = Celery("waybill_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
