"""The shops app's services: every write goes through one of these functions."""

from shops.services.accounts import (  # noqa: F401
    api_token_create,
    api_token_revoke,
    login_check_allowed,
    login_record_failure,
    password_problems,
    session_switch_shop,
    shop_create,
    shop_set_active,
    user_create,
    user_find_for_login,
    username_identity,
    username_normalize,
)
from shops.services.addresses import (  # noqa: F401
    ADDRESS_LIMIT,
    address_create,
    address_delete,
    address_update,
)
from shops.services.order_intake import order_create, order_reveal_receiver  # noqa: F401
from shops.services.order_shipping import (  # noqa: F401
    order_record_logistics,
    order_ship_batch_by_hand,
    order_ship_by_hand,
)
from shops.services.order_sweep import orders_apply_time_rules  # noqa: F401
from shops.services.orders import (  # noqa: F401
    order_answer_cancel,
    order_cancel_by_seller,
    order_change_address,
    order_close_after_sale,
    order_mark_ready,
    order_pay,
    order_request_cancel,
    order_reroute,
    order_start_after_sale,
)
from shops.services.sub_accounts import (  # noqa: F401
    sub_account_create,
    sub_account_password_reset,
    sub_account_update,
)
