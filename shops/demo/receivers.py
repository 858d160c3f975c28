"""Demo receivers: names, mobile numbers and addresses across mainland China, weighted by
e-commerce volume, checked like real input and encrypted once.

:func:`receiver_pool` draws up to ``RECEIVER_POOL`` distinct receivers; their Fernet
tokens are reused as :class:`~waybill_console.crypto.Sealed` values instead of encrypting
every order again.
"""

from __future__ import annotations

import random
from dataclasses import asdict

from shops import regions
from shops.demo.picker import Picker
from shops.services.order_intake import ReceiverInput, clean_receiver
from waybill_console.crypto import Sealed, encrypt

RECEIVER_POOL = 2000

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "慕容", "皇甫")
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉萍文辉鑫宇浩然子涵梓轩欣怡"
    "思雨佳琪雪梅俊杰晓东海燕丹婷慧颖嘉豪一诺梦瑶雅晨博鹏飞亮波斌雯倩琳宁峰晶鹤翔凯锋月莹"
)
MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "170 173 175 176 177 180 181 182 183 185 186 187 188 189 191 198 199"
).split()
STREETS = (
    "人民路 解放路 中山路 建设路 和平路 新华路 文化路 胜利路 朝阳路 长江路 黄河路 东风路 "
    "青年路 花园路 学院路 滨江路 光明路 幸福路 南京路 北京路 延安路 工业大道 迎宾大道 "
    "世纪大道 金融街 科技路 民主路 团结路 振兴路 育才路 凤凰路 湖滨路"
).split()
COMPOUNDS = (
    "阳光花园 幸福家园 锦绣华庭 翠苑小区 金色家园 碧桂园 万科城 保利花园 桂花园 世纪新城 "
    "御景湾 春江花月 怡景苑 梧桐苑 明珠小区 香樟园 滨江一号 紫金城 绿地新都会 和府"
).split()
OFFICES = "国际大厦 科技园 创业中心 商务中心 金融中心 时代广场 软件园 写字楼".split()
VILLAGE_WORDS = "张家 李家 王庄 柳树 杨林 石桥 河口 新民 东升 红旗".split()

#: relative share of orders by province (mainland only; e-commerce volume, roughly)
# fmt: off
PROVINCE_WEIGHTS = {
    "440000": 12, "320000": 8, "330000": 8, "370000": 7, "410000": 6, "510000": 6,
    "310000": 5, "110000": 5, "420000": 5, "430000": 5, "130000": 5, "350000": 4,
    "340000": 4, "610000": 3, "210000": 3, "360000": 3, "450000": 3, "500000": 3,
    "530000": 3, "120000": 2, "140000": 2, "520000": 2, "230000": 2, "220000": 1.5,
    "150000": 1.5, "650000": 1.5, "620000": 1.5, "460000": 1, "640000": 0.5,
    "630000": 0.5, "540000": 0.3,
}
# fmt: on
REMOTE_PROVINCES = {"540000", "650000", "630000", "620000", "640000", "150000"}


def _person_name(rng: random.Random) -> str:
    surname = (
        rng.choice(COMPOUND_SURNAMES)
        if rng.random() < 0.01
        else SURNAMES[min(int(rng.expovariate(1 / 18)), len(SURNAMES) - 1)]
    )
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(1 if rng.random() < 0.3 else 2))
    return surname + given


def _street_detail(rng: random.Random, district: str) -> str:
    street, number = rng.choice(STREETS), rng.randint(1, 999)
    kind = rng.random()
    if kind < 0.7:
        return (
            f"{street}{number}号{rng.choice(COMPOUNDS)}{rng.randint(1, 32)}幢"
            f"{rng.randint(1, 4)}单元{rng.randint(1, 33)}0{rng.randint(1, 4)}室"
        )
    if kind < 0.9:
        return f"{street}{number}号{rng.choice(OFFICES)}{rng.randint(2, 28)}楼"
    town = (district or "城关")[:2]
    return f"{town}镇{rng.choice(VILLAGE_WORDS)}村{rng.randint(1, 12)}组{rng.randint(1, 99)}号"


def _region_pickers() -> dict[str, tuple]:
    """province code -> (province name, picker of (city, district picker or None))."""
    out = {}
    for province in regions.provinces():
        if province.code not in PROVINCE_WEIGHTS:
            continue
        cities = regions.children(province.code)
        choices = []
        for city in cities:
            districts = regions.children(city.code)
            choices.append((city.name, districts and [d.name for d in districts]))
        # the capital (listed first) gets a bigger share
        weights = [4 if i == 0 else 1 for i in range(len(choices))]
        out[province.code] = (province.name, Picker(choices, weights))
    return out


def receiver_pool(rng: random.Random, size: int) -> list[tuple]:
    """``size`` distinct receivers: (ReceiverInput, province code, sealed name/phone/detail)."""
    pickers = _region_pickers()
    province_picker = Picker(list(pickers), [PROVINCE_WEIGHTS[c] for c in pickers])
    phones = {"13812345678"}
    pool = [
        ReceiverInput("张三", "13812345678", "浙江省", "杭州市", "西湖区", "文三路90号3幢501室")
    ]
    pool_codes = ["330000"]
    while len(pool) < size:
        code = province_picker(rng)
        province, city_picker = pickers[code]
        city, districts = city_picker(rng)
        district = rng.choice(districts) if districts else ""
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone in phones:
            continue
        phones.add(phone)
        pool.append(
            ReceiverInput(
                _person_name(rng), phone, province, city, district, _street_detail(rng, district)
            )
        )
        pool_codes.append(code)
    out = []
    for rec, code in zip(pool, pool_codes, strict=True):
        errors: dict[str, str] = {}
        clean_receiver(asdict(rec), errors)
        if errors:  # the generator's own data: fail loudly
            raise ValueError(f"bad demo receiver {rec.phone}: {errors}")
        sealed = (
            Sealed(encrypt(rec.name)),
            Sealed(encrypt(rec.phone)),
            Sealed(encrypt(rec.detail)),
        )
        out.append((rec, code, *sealed))
    return out
