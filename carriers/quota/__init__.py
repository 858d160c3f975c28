"""The quota's one owner: balance, reservations (reserve, commit, release), the cancel cap,
recycling returns, re-deductions, the ledger and the low-balance notice (``quota.low``).
No other module writes a subscription's quota counters, ``carriers_branchaccount``,
``carriers_reservation`` or the ledger.
"""

from carriers.quota.cancel_cap import (  # noqa: F401
    cancel_give_back,
    cancel_take,
    cancellable_now,
)
from carriers.quota.ledger import ledger_check, ledger_post  # noqa: F401
from carriers.quota.low_balance import low_balance_drawn, low_balance_near  # noqa: F401
from carriers.quota.reservations import (  # noqa: F401
    DRAW_CTE,
    Held,
    Want,
    carrier_order_id,
    commit_params,
    draw_params,
    note_error,
    refuse,
    release,
    reservations_due,
    reserve_or_continue,
    reserve_upto,
)
from carriers.quota.returns import quota_rededuct, quota_return_recycled  # noqa: F401
