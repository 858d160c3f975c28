"""Demo branches: every carrier gets one branch in each province, covering that province."""

from __future__ import annotations

from carriers.models import Branch, BranchCoverage, Carrier, DeliveryAttribute
from shops import regions

SURNAMES = "王李张刘陈杨黄赵吴周"


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
            BranchCoverage.objects.create(
                branch=branch, region_code=province.code, attribute=DeliveryAttribute.FULL
            )
            created += 1
    return created
