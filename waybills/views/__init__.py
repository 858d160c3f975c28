"""Console pages of the waybill engine, one module per page group (routes in
:mod:`waybills.urls`):

* :mod:`~waybills.views.usage`: usage details (使用详情) with the 7-day chart,
  cancelling a number and reconciliation statements;
* :mod:`~waybills.views.exceptions`: allocation exceptions (面单异常) and violations
  (违规记录);
* :mod:`~waybills.views.batch`: batch allocation and batch shipping from the order list;
* :mod:`~waybills.views.orders`: the waybill block of the order detail page;
* :mod:`~waybills.views.common`: what they share (``next``, refusals, input parsing).

The order pages belong to ``shops``, which must not import this app: the order list posts
its selection here and shows the batch progress from
:func:`~waybills.views.batch.waybill_batch_progress`; the order detail page loads
:func:`~waybills.views.orders.order_waybills` with htmx.
"""
