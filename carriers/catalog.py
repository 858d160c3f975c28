"""The carrier catalog (data, loaded by a migration and refreshed by seed_demo).

Waybill number formats: prefix and length as the carriers print them (ZTO 14 digits
starting 73–76 or 78, YTO ``YT`` + 13 digits, J&T ``JT`` + 13, SF ``SF`` + 13,
JD ``JD`` + 2 letters/digits + 11 digits, Deppon ``DPK`` + 12 …).
"""

import re

SIZES_DOMESTIC = ["76x130", "100x150", "100x180"]
SIZES_INTL = ["100x100", "100x150"]

CARRIERS = [
    # code, name, network, monthly account, secret key, number pattern, example, services, sizes
    (
        "ZTO",
        "中通快递",
        "franchise",
        False,
        False,
        r"7[3-68]\d{12}",
        "73100000000001",
        ["standard", "insured"],
        SIZES_DOMESTIC,
    ),
    (
        "YTO",
        "圆通速递",
        "franchise",
        False,
        False,
        r"YT\d{13}",
        "YT1000000000001",
        ["standard", "insured"],
        SIZES_DOMESTIC,
    ),
    (
        "YUNDA",
        "韵达快递",
        "franchise",
        False,
        True,
        r"4\d{12}",
        "4300000000001",
        ["standard"],
        SIZES_DOMESTIC,
    ),
    (
        "STO",
        "申通快递",
        "franchise",
        False,
        False,
        r"77\d{11}",
        "7700000000001",
        ["standard"],
        SIZES_DOMESTIC,
    ),
    (
        "JT",
        "极兔速递",
        "franchise",
        False,
        False,
        r"JT\d{13}",
        "JT1000000000001",
        ["standard"],
        SIZES_DOMESTIC,
    ),
    (
        "POSTB",
        "邮政快递包裹",
        "direct",
        False,
        False,
        r"9\d{12}",
        "9800000000001",
        ["standard", "cod"],
        SIZES_DOMESTIC,
    ),
    (
        "EMS",
        "EMS",
        "direct",
        True,
        False,
        r"1\d{12}",
        "1100000000001",
        ["standard", "cod"],
        SIZES_DOMESTIC,
    ),
    (
        "SF",
        "顺丰速运",
        "direct",
        True,
        False,
        r"SF\d{13}",
        "SF1000000000001",
        ["standard", "cold_chain", "fresh", "insured", "cod"],
        SIZES_DOMESTIC,
    ),
    (
        "JD",
        "京东快递",
        "direct",
        True,
        False,
        r"JD[A-Z0-9]{2}\d{11}",
        "JDVA10000000001",
        ["standard", "insured", "cod"],
        SIZES_DOMESTIC,
    ),
    (
        "FENGWANG",
        "丰网速运",
        "franchise",
        False,
        False,
        r"FW\d{13}",
        "FW1000000000001",
        ["standard"],
        SIZES_DOMESTIC,
    ),
    (
        "DEPPON",
        "德邦快递",
        "direct",
        True,
        False,
        r"DPK\d{12}",
        "DPK100000000001",
        ["standard", "heavy", "insured"],
        SIZES_DOMESTIC,
    ),
    (
        "ZTOINTL",
        "中通国际",
        "franchise",
        False,
        False,
        r"ZTI\d{12}",
        "ZTI100000000001",
        ["standard"],
        SIZES_INTL,
    ),
]


def number_matches(pattern: str, waybill_no: str) -> bool:
    return bool(pattern) and re.fullmatch(pattern, waybill_no or "") is not None


def load(Carrier) -> None:
    for code, name, network, monthly, secret, pattern, example, services, sizes in CARRIERS:
        Carrier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "network_type": network,
                "needs_monthly_account": monthly,
                "needs_secret_key": secret,
                "number_pattern": pattern,
                "number_example": example,
                "services": services,
                "label_sizes": sizes,
            },
        )
