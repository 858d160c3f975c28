"""智能粘贴: one pasted line (or a few lines) split into a receiver's fields.

``张三 13812345678 浙江省杭州市西湖区文三路90号`` → name, phone, province, city,
district and detail. The region comes from the division list (:mod:`shops.regions`), so
the province and city may be omitted where the rest names them unambiguously (杭州市西湖区
→ 浙江省; 浙江省西湖区 → 杭州市), short names work (浙江杭州), municipalities are one city
(北京市朝阳区 → 北京市 > 北京市 > 朝阳区), and the parts may be glued or separated by
spaces, commas, semicolons or line breaks, with or without the labels platforms export
(收货人:, 手机号码:, 所在地区:, 详细地址:). A 6-digit token is the postcode.

Nothing here decides what is valid: the result fills a form, and the form's service
validates it. :func:`receiver_parse` never raises; what it could not find is listed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from shops import regions
from shops.regions import Region

#: the fields a parse fills (postcode is optional: an order keeps it, the receiver form not)
FIELDS = ("name", "phone", "province", "city", "district", "detail", "postcode")
#: the fields reported missing when not found (a district only where the city has districts)
EXPECTED = ("name", "phone", "province", "city", "district", "detail")
#: longer input is cut: a receiver is one line (name 40, street 200), not a document
MAX_TEXT = 400
#: pieces looked at for the name and the start of the address
MAX_TOKENS = 24
NAME_MAX = 40

LABEL_RE = re.compile(
    r"(?:收货人|收件人|联系人|姓名|名字|手机号码|手机号|手机|电话号码|联系电话|电话|"
    r"所在地区|所在地|地区|详细地址|收货地址|收件地址|地址|邮政编码|邮编)\s*:"
)
SEPARATORS_RE = re.compile(r"[\s,;|:、]+")
MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
LANDLINE_RE = re.compile(r"(?<!\d)\(?(0\d{2,3})\)?[\s-]?(\d{7,8})(?!\d)")
POSTCODE_RE = re.compile(r"^\(?(\d{6})\)?$")
#: a short name (浙江, 杭州) must not be followed by one of these: 朝阳区 is not 朝阳(市)+区
LEVEL_SUFFIXES = "省市区县旗盟州镇乡街路道村"
#: how a person's name does not end (the end of an address part)
ADDRESS_ENDINGS = tuple(
    "路街道巷弄号楼栋幢室层单元村镇乡区县市省园苑府城庄湾里坊座院厦场心寓舍队组站口"
)
PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
CITY_SUFFIXES = ("地区", "林区", "市", "盟")


@dataclass(frozen=True)
class _Names:
    """A region's full name and the short forms it is written as."""

    region: Region
    full: str
    short: tuple[str, ...]


def _short_forms(region: Region) -> tuple[str, ...]:
    name = region.name
    if region.level == 1:
        suffixes = PROVINCE_SUFFIXES
    elif region.level == 2:
        suffixes = CITY_SUFFIXES
        if name.endswith("自治州"):  # 恩施土家族苗族自治州 → 恩施
            return (name[:2],)
    else:
        if "自治" in name:  # 长阳土家族自治县 → 长阳
            return (name[:2],)
        suffixes = ("新区", "区", "县", "市", "旗")
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return (name[: -len(suffix)],)
    return ()


def _names(region: Region) -> _Names:
    return _Names(region, region.name, _short_forms(region))


@lru_cache(maxsize=1)
def _tables() -> dict:
    """Provinces, cities and districts with their names, built once per process."""
    provinces = [_names(p) for p in regions.provinces()]
    cities = [_names(c) for p in regions.provinces() for c in regions.children(p.code)]
    districts: dict[str, list[_Names]] = {}
    for city in cities:
        districts[city.region.code] = [_names(d) for d in regions.children(city.region.code)]
    # every short form is a prefix of the full name or starts like it: index by first char
    cities_by_char: dict[str, list[_Names]] = {}
    for city in cities:
        cities_by_char.setdefault(city.full[0], []).append(city)
    districts_by_char: dict[str, list[_Names]] = {}
    for pool in districts.values():
        for district in pool:
            districts_by_char.setdefault(district.full[0], []).append(district)
    return {
        "provinces": provinces,
        "cities": cities,
        "districts": districts,
        "cities_by_char": cities_by_char,
        "districts_by_char": districts_by_char,
    }


def _municipality_city(province: Region) -> Region | None:
    only = regions.children(province.code)
    if len(only) == 1 and only[0].name == province.name:
        return only[0]
    return None


def _match(
    text: str, pos: int, candidates, *, short_needs_break: bool = False
) -> list[tuple[Region, int]]:
    """The candidates whose full or short name starts ``text`` at ``pos``: (region, end).

    A short name followed by an administrative suffix is not a match (朝阳区 is not 朝阳
    + 区); ``short_needs_break``: a short name counts only before a space or the end (a
    district's short name, 西湖, would otherwise eat 西湖大道)."""
    found: dict[str, tuple[Region, int]] = {}
    for names in candidates:
        if text.startswith(names.full, pos):
            end = pos + len(names.full)
            if names.region.code not in found or found[names.region.code][1] < end:
                found[names.region.code] = (names.region, end)
            continue
        for short in names.short:
            if not text.startswith(short, pos):
                continue
            end = pos + len(short)
            following = text[end : end + 1]
            if following and following in LEVEL_SUFFIXES:
                continue
            if short_needs_break and following and not following.isspace():
                continue
            found.setdefault(names.region.code, (names.region, end))
    if not found:
        return []
    longest = max(end for _, end in found.values())
    return [(r, end) for r, end in found.values() if end == longest]


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


@dataclass
class _Place:
    province: Region | None = None
    city: Region | None = None
    district: Region | None = None
    end: int = 0

    @property
    def found(self) -> bool:
        return self.province is not None or self.city is not None


def _region_prefix(text: str) -> _Place:
    """The province / city / district that ``text`` starts with, and where they end."""
    t = _tables()
    place = _Place()
    pos = _skip_spaces(text, 0)
    hits = _match(text, pos, t["provinces"])
    if len(hits) == 1:
        place.province, pos = hits[0][0], _skip_spaces(text, hits[0][1])
        place.end = pos
    if place.province is not None:
        city = _municipality_city(place.province)
        if city is not None:
            place.city = city
            # 北京市北京市朝阳区, 北京市市辖区朝阳区: the city repeated
            again = _match(text, pos, [_names(city)])
            alias = next(
                (a for a in regions.MUNICIPALITY_CITY_ALIASES if text.startswith(a, pos)), None
            )
            if again:
                pos = _skip_spaces(text, again[0][1])
            elif alias:
                pos = _skip_spaces(text, pos + len(alias))
            place.end = pos
        else:
            cities = [c for c in t["cities"] if c.region.parent == place.province.code]
            hits = _match(text, pos, cities)
            if len(hits) == 1:
                place.city, pos = hits[0][0], _skip_spaces(text, hits[0][1])
                place.end = pos
    else:
        hits = _match(text, pos, t["cities_by_char"].get(text[pos : pos + 1], []))
        if len(hits) == 1:
            place.city, pos = hits[0][0], _skip_spaces(text, hits[0][1])
            place.province = regions.get(place.city.parent)
            place.end = pos
    if place.city is not None:
        hits = _match(text, pos, t["districts"].get(place.city.code, []), short_needs_break=True)
        if len(hits) == 1:
            place.district, place.end = hits[0][0], _skip_spaces(text, hits[0][1])
        return place
    # no city named: a district unique in the province (or in the country) names it
    if place.province is not None:
        pool = [
            d
            for d in t["districts_by_char"].get(text[pos : pos + 1], [])
            if regions.get(d.region.parent).parent == place.province.code
        ]
    else:
        pool = t["districts_by_char"].get(text[pos : pos + 1], [])
    # without a city, a district is taken only by its full name (浙江省余杭区, not 余杭)
    hits = [(r, end) for r, end in _match(text, pos, pool) if text.startswith(r.name, pos)]
    if len(hits) == 1:
        place.district, place.end = hits[0][0], _skip_spaces(text, hits[0][1])
        place.city = regions.get(place.district.parent)
        place.province = place.province or regions.get(place.city.parent)
    return place


def _strip_repeated_region(detail: str, place: _Place) -> str:
    """Exports often repeat the region in the detail (浙江省 杭州市 西湖区 浙江省杭州市西湖区
    文三路90号): drop a repetition that names the same places."""
    for _ in range(3):
        again = _region_prefix(detail)
        if not again.found or again.end == 0:
            break
        same = all(
            a is None or b is None or a.code == b.code
            for a, b in (
                (again.province, place.province),
                (again.city, place.city),
                (again.district, place.district),
            )
        )
        if not same:
            break
        detail = detail[again.end :]
    return detail.strip()


def _looks_like_name(token: str) -> bool:
    if not token or len(token) > NAME_MAX or any(ch.isdigit() for ch in token):
        return False
    if all(ch.isalpha() or ch in "·•.-' " for ch in token) and token.isascii():
        return True  # Tom, Li-Na
    cjk = sum(1 for ch in token if "\u4e00" <= ch <= "\u9fff")
    if cjk != len(token.replace("·", "").replace("•", "")):
        return False
    if len(token) > 6 and "·" not in token and "•" not in token:
        return False
    return not token.endswith(ADDRESS_ENDINGS) or len(token) <= 1


def _unglue(token: str) -> list[str]:
    """A name glued to the address: 张三浙江省杭州市… → 张三, 浙江省杭州市…"""
    if _region_prefix(token).found:
        return [token]
    for k in range(2, min(len(token), 8)):
        if _looks_like_name(token[:k]) and _region_prefix(token[k:]).found:
            return [token[:k], token[k:]]
    return [token]


def _take_phone(text: str) -> tuple[str, str]:
    """The first mobile number (else landline) as digits, and the text without it."""
    for pattern in (MOBILE_RE, LANDLINE_RE):
        m = pattern.search(text)
        if m:
            return "".join(m.groups()), text[: m.start()] + " " + text[m.end() :]
    return "", text


def _normalize(text) -> str:
    text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT])
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return LABEL_RE.sub(" ", text)


def receiver_parse(text) -> dict:
    """Split a pasted receiver into fields.

    Returns every field of :data:`FIELDS` (``""`` when not found), ``missing``: the
    expected fields not found, and ``unparsed``: pieces that fit no field (a second phone
    number, an extension). Never raises; any input, however odd, gives such a dict."""
    result = {f: "" for f in FIELDS}
    unparsed: list[str] = []
    phone, rest = _take_phone(_normalize(text))
    result["phone"] = phone
    tokens: list[str] = []
    for token in SEPARATORS_RE.split(rest):
        if not token:
            continue
        if len(tokens) >= MAX_TOKENS:
            unparsed.append(token)
            continue
        postcode = POSTCODE_RE.match(token)
        if postcode and not result["postcode"]:
            result["postcode"] = postcode.group(1)
            continue
        tokens.extend(_unglue(token))
    start, place = None, _Place()
    for i in range(len(tokens)):
        candidate = _region_prefix(" ".join(tokens[i:]))
        if candidate.found or candidate.district is not None:
            start, place = i, candidate
            break
    before = tokens if start is None else tokens[:start]
    after = [] if start is None else tokens[start:]
    leftovers = []
    for token in before:
        if not result["name"] and _looks_like_name(token):
            result["name"] = token
        else:
            leftovers.append(token)
    if start is not None:
        address = " ".join(after)[place.end :]
        if not result["name"] and len(after) > 1 and _looks_like_name(after[-1]):
            result["name"] = after[-1]
            address = address[: len(address) - len(after[-1])]
        result["detail"] = _strip_repeated_region(address, place)
        for key in ("province", "city", "district"):
            region = getattr(place, key)
            result[key] = region.name if region else ""
        unparsed.extend(leftovers)
    else:
        # no region: what is not the name is taken for the street, in its order
        result["detail"] = " ".join(leftovers)
    result["detail"] = re.sub(r"\s+", " ", result["detail"]).strip()[:200]
    missing = [f for f in EXPECTED if not result[f]]
    if "district" in missing and place.city is not None and not place.city.children:
        missing.remove("district")  # 东莞市, 仙桃市: no districts
    result["missing"] = missing
    result["unparsed"] = unparsed
    return result
