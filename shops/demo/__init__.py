"""Demo data for ``manage.py seed_demo`` and the benchmark (``python -m bench``):

* :mod:`~shops.demo.orders`: the generator, :func:`~shops.demo.orders.demo_orders_create`;
* :mod:`~shops.demo.catalogue`: the products (a home-goods flagship store) and buyer notes;
* :mod:`~shops.demo.receivers`: a pool of realistic, encrypted receivers across China;
* :mod:`~shops.demo.lifecycle`: one order's simulated history (paid … delivered);
* :mod:`~shops.demo.picker`: the weighted random choice they all use.
"""
