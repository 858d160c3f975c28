"""Demo branches: every carrier gets one branch in each province, delivering nationwide
with a few regional exceptions (so that every screening code can be shown)."""

from __future__ import annotations

from carriers.models import Branch, BranchCoverage, Carrier, DeliveryAttribute
from shops import regions

SURNAMES = "王李张刘陈杨黄赵吴周"
COVERAGE = [
    ("000000", DeliveryAttribute.FULL, True),  # the whole country …
    ("540000", DeliveryAttribute.PARTIAL, False),  # 西藏: partial at the 4th level (1022)
    ("650000", DeliveryAttribute.NOT_FULL, True),  # 新疆: not full-territory (1023)
    ("710000", DeliveryAttribute.NONE, False),  # 台湾: out of area (超区)
    ("630000", DeliveryAttribute.FULL, False),  # 青海: no value-added services
]


def demo_branches_create() -> int:
    """Idempotent; returns how many branches were added."""
    existing = set(Branch.objects.values_list("carrier__code", "code"))
    created = 0
    for ci, carrier in enumerate(Carrier.objects.order_by("code")):
        for province in regions.provinces():
            cities = regions.children(province.code)
            city = cities[0] if cities else province
            districts = regions.children(city.code)
            district = districts[0] if districts else None
            code = f"{province.code[:2]}{ci:02d}01"
            if (carrier.code, code) in existing:
                continue
            short = city.name.removesuffix("市") if city is not province else province.name
            branch = Branch.objects.create(
                carrier=carrier,
                code=code,
                name=f"{carrier.name}{short}{district.name if district else ''}网点",
                province=province.name,
                city=city.name if city is not province else "",
                district=district.name if district else "",
                region_code=(district or city).code,
                contact_name=f"{SURNAMES[(ci + int(province.code[:2])) % 10]}经理",
                contact_phone=f"1380000{int(province.code[:2]):02d}{ci:02d}",
            )
            # nationwide delivery, with the exceptions the screening demo needs
            BranchCoverage.objects.bulk_create(
                BranchCoverage(
                    branch=branch,
                    region_code=region,
                    attribute=attribute,
                    value_added_services=value_added,
                )
                for region, attribute, value_added in COVERAGE
            )
            created += 1
    return created
