"""Load test: ``python -m load`` (``make load``); the traffic is in ``load/locustfile.py``."""

#: the traffic mix: task weights, i.e. shares of the requests
WEIGHTS = {"allocate": 40, "orders": 20, "label": 25, "cancel": 12, "batch": 1}
#: the name each task's requests are reported under
NAMES = {
    "allocate": "POST /api/v1/waybills/",
    "orders": "GET /api/v1/orders/?status=paid",
    "label": "GET /api/v1/waybills/[no]/label/?format=pdf",
    "cancel": "POST /api/v1/waybills/[no]/cancel/",
    "batch": "POST /api/v1/waybills/batch/",
}
