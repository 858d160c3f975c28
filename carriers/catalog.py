"""The carrier catalog (data, loaded by a migration and refreshed by seed_demo)."""

CARRIERS = [
    # code, name, network type, needs monthly account, needs secret key
    ("ZTO", "中通快递", "franchise", False, False),
    ("YTO", "圆通速递", "franchise", False, False),
    ("YUNDA", "韵达快递", "franchise", False, True),
    ("STO", "申通快递", "franchise", False, False),
    ("JT", "极兔速递", "franchise", False, False),
    ("POSTB", "邮政快递包裹", "direct", False, False),
    ("EMS", "EMS", "direct", True, False),
    ("SF", "顺丰速运", "direct", True, False),
    ("JD", "京东快递", "direct", True, False),
    ("FENGWANG", "丰网速运", "franchise", False, False),
    ("DEPPON", "德邦快递", "direct", True, False),
    ("ZTOINTL", "中通国际", "franchise", False, False),
]


def load(Carrier) -> None:
    for code, name, network, monthly, secret in CARRIERS:
        Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "network_type": network,
                "needs_monthly_account": monthly,
                "needs_secret_key": secret,
            },
        )
