"""Demo orders: realistic receivers, products and lifecycles, fast enough for 200,000 orders.

Used by ``manage.py seed_demo --orders N`` and by the benchmark (``python -m bench``).

* Every order is built by :func:`~shops.services.order_intake.order_build` (masked receiver,
  blind index of the phone), then given the timestamps of a simulated lifecycle
  (paid, printed, shipped, picked up, in transit, delivered or failed, cancelled) and
  its ``sla_due_at`` from :func:`~shops.services.order_states.sla_next_due`.
* Receivers come from a pool (up to 2,000) encrypted once; their Fernet tokens are
  reused as :class:`~waybill_console.crypto.Sealed` values instead of encrypting
  every order again.
* Rows are written with ``bulk_create`` in batches of 5,000, one transaction a batch:
  orders, their items and one "created" event each.
* Order numbers are ``DEMO`` + a running number after the shop's highest one, so a
  second run adds new orders. Two runs for the same shop at the same moment would
  collide on ``(shop, order_no)`` and the later batch would fail.

The data is a function of ``seed``, the shop and the first order number: the same call
gives the same orders, a second run gives different ones.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from django.db import models, transaction
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from shops import regions
from shops.models import (
    AfterSaleStatus,
    CancelRequestStatus,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Product,
    Shop,
)
from shops.services.order_intake import OrderInput, ReceiverInput, clean_receiver, order_build
from shops.services.order_states import (
    REMINDER_AFTER,
    REROUTE_WITHIN,
    UNPAID_CANCEL_AFTER,
    sla_next_due,
)
from waybill_console.crypto import Sealed, encrypt

S = OrderStatus
BATCH_SIZE = 5000
RECEIVER_POOL = 2000
ORDER_NO_PREFIX = "DEMO"
HISTORY_DAYS = 60
#: the backlog waiting to be shipped, in percent of the orders seeded, and at least
BACKLOG_SHARE = 5
BACKLOG_MIN = 6

# --- the catalogue (a home-goods flagship store) -------------------------------------------

#: sku, product name, spec, unit price, popularity
PRODUCTS = [
    ("CUP-500-W", "真空保温杯", "500ml 白色", "39.90", 30),
    ("CUP-500-B", "真空保温杯", "500ml 黑色", "39.90", 22),
    ("CUP-350-P", "真空保温杯", "350ml 樱花粉", "35.90", 14),
    ("MUG-CER-380", "陶瓷马克杯", "380ml 奶白 带盖勺", "19.90", 18),
    ("WOK-32-IR", "精铁无涂层炒锅", "32cm 带锅盖", "129.00", 9),
    ("PAN-26-NS", "麦饭石不粘平底锅", "26cm 燃气电磁通用", "89.00", 10),
    ("SPAT-SIL-3", "食品级硅胶铲勺", "三件套 灰色", "29.90", 12),
    ("BOX-GL-1L", "耐热玻璃保鲜盒", "1000ml 三只装", "45.90", 15),
    ("BOARD-BMB", "整竹菜板", "40×28cm 加厚", "59.00", 7),
    ("KNIFE-SET-5", "不锈钢刀具", "五件套 带刀座", "168.00", 5),
    ("KETTLE-17", "不锈钢电热水壶", "1.7L 304内胆", "79.00", 11),
    ("CHOP-ALY-10", "合金筷子", "10双装 防霉", "24.90", 16),
    ("BOWL-SET-8", "釉下彩碗碟套装", "8人份 28件", "199.00", 4),
    ("JAR-GL-4", "玻璃密封罐", "四只装 850ml", "36.80", 8),
    ("BED-4P-150", "全棉四件套", "1.5m床 雾霾蓝", "239.00", 9),
    ("BED-4P-180", "全棉四件套", "1.8m床 燕麦色", "259.00", 8),
    ("PIL-LTX-2", "泰国天然乳胶枕", "成人款 一只装", "99.00", 12),
    ("PIL-NECK-1", "记忆棉颈椎枕", "波浪型 灰色", "69.00", 6),
    ("QUILT-SUM", "夏凉被 空调被", "200×230cm 可机洗", "128.00", 7),
    ("MAT-ICE-18", "冰丝凉席三件套", "1.8m床 可折叠", "149.00", 6),
    ("TOW-CTN-3", "纯棉毛巾", "三条装 吸水不掉毛", "29.90", 20),
    ("TOW-BATH-1", "加厚纯棉浴巾", "70×140cm 米白", "49.90", 10),
    ("SLIP-EVA-42", "EVA浴室拖鞋", "42-43码 男款 灰色", "19.90", 13),
    ("SLIP-EVA-37", "EVA浴室拖鞋", "37-38码 女款 粉色", "19.90", 13),
    ("HANG-20", "防滑无痕衣架", "20只装 浸塑", "25.90", 17),
    ("RACK-FLD-3", "落地折叠晾衣架", "1.5m 三杆", "89.00", 5),
    ("BAG-VAC-8", "真空压缩袋", "8件套 送电泵", "59.90", 9),
    ("BOX-STO-66", "衣物收纳箱", "66L 两只装 透明", "79.90", 8),
    ("RUG-DOOR-60", "吸水硅藻泥地垫", "40×60cm 灰色", "39.90", 10),
    ("LAMP-LED-9", "LED护眼台灯", "国AA级 三档调光", "119.00", 6),
    ("DIFF-300", "静音香薰加湿器", "300ml 木纹", "69.90", 5),
    ("TRASH-BAG-5", "加厚垃圾袋", "5卷 150只 45×50cm", "15.90", 19),
    ("CLOTH-TBL-14", "防水防油桌布", "140×180cm 北欧格纹", "32.90", 6),
]

BUYER_NOTES = [
    "请尽快发货，谢谢",
    "不要放快递柜，送货上门",
    "周末不在家，工作日送达",
    "送人的，不要放价格单",
    "发顺丰可以吗？补差价",
    "包装结实一点，易碎品",
    "放门卫室就好",
    "到了提前打电话",
    "颜色别发错了",
    "需要开发票，抬头已发客服",
]

# --- receivers ------------------------------------------------------------------------------

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

# --- carriers (codes of carriers.catalog.CARRIERS) -------------------------------------------

#: code, share, tracking number prefix, random digits after it
CARRIERS = [
    ("ZTO", 26, "78", 12),
    ("YTO", 20, "YT", 13),
    ("YUNDA", 13, "46", 11),
    ("JT", 12, "JT", 13),
    ("STO", 10, "77", 13),
    ("SF", 8, "SF", 13),
    ("POSTB", 4, "98", 11),
    ("EMS", 3, "11", 11),
    ("JD", 3, "JDVA", 11),
    ("DEPPON", 1, "DPK", 12),
]
REMOTE_CARRIERS = [c for c in CARRIERS if c[0] in ("POSTB", "EMS", "SF", "ZTO")]

#: local hour of day -> share of orders created in it (evening peak)
HOUR_WEIGHTS = [3, 2, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 5, 5, 6, 8, 9, 8, 5]
ITEM_COUNT_WEIGHTS = [62, 24, 10, 4]  # 1, 2, 3, 4 items
QUANTITY_WEIGHTS = [80, 14, 5, 1]  # 1, 2, 3, 5


class _Picker:
    """Weighted random choice with precomputed cumulative weights (fast in a hot loop)."""

    def __init__(self, values, weights):
        self.values = list(values)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cum, rng.random() * self.total)]


def _hours(h: float) -> timedelta:
    return timedelta(hours=h)


# --- building blocks ------------------------------------------------------------------------


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
        out[province.code] = (province.name, _Picker(choices, weights))
    return out


def _receiver_pool(rng: random.Random, size: int) -> list[tuple]:
    """``size`` distinct receivers: (ReceiverInput, province code, sealed name/phone/detail)."""
    pickers = _region_pickers()
    province_picker = _Picker(list(pickers), [PROVINCE_WEIGHTS[c] for c in pickers])
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


def _next_order_number(shop: Shop) -> int:
    last = (
        Order.objects.filter(shop=shop, order_no__regex=rf"^{ORDER_NO_PREFIX}[0-9]{{1,18}}$")
        .annotate(n=Cast(Substr("order_no", len(ORDER_NO_PREFIX) + 1), models.BigIntegerField()))
        .aggregate(m=models.Max("n"))["m"]
    )
    return (last or 0) + 1


def demo_products_create(*, shop: Shop, seed: int = 0) -> int:
    """The catalogue as the shop's products, with stock; existing SKUs are left alone."""
    rng = random.Random(f"products:{seed}")
    rows = [
        Product(shop=shop, sku=sku, name=f"{name} {spec}", stock=rng.randint(80, 3000))
        for sku, name, spec, _price, _pop in PRODUCTS
    ]
    before = Product.objects.filter(shop=shop).count()
    Product.objects.bulk_create(rows, ignore_conflicts=True)
    return Product.objects.filter(shop=shop).count() - before


# --- one order's life -------------------------------------------------------------------------


class _Lifecycle:
    """Draws one order's history and returns the model fields it has at ``now``."""

    def __init__(self, rng: random.Random, now: datetime, no_source_risk: bool):
        self.rng, self.now, self.no_source_risk = rng, now, no_source_risk
        self.local_midnight = timezone.localtime(now).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.hour = _Picker(range(24), HOUR_WEIGHTS)
        self.carrier = _Picker(CARRIERS, [c[1] for c in CARRIERS])
        self.remote_carrier = _Picker(REMOTE_CARRIERS, [c[1] for c in REMOTE_CARRIERS])

    def created_at(self) -> datetime:
        rng = self.rng
        # three quarters spread over 60 days, a quarter in the last (busier) week
        days_back = int(rng.random() * (HISTORY_DAYS if rng.random() < 0.75 else 7))
        at = (
            self.local_midnight
            - timedelta(days=days_back)
            + timedelta(hours=self.hour(rng), seconds=rng.random() * 3600)
        )
        if at > self.now:  # later today: somewhere between midnight and now
            at = self.local_midnight + (self.now - self.local_midnight) * rng.random()
        return at

    def tracking(self, remote: bool) -> tuple[str, str]:
        code, _share, prefix, digits = (self.remote_carrier if remote else self.carrier)(self.rng)
        return code, prefix + f"{self.rng.randrange(10**digits):0{digits}d}"

    def waiting(self) -> dict:
        """An order of the backlog: paid within the last 20 hours (counted back from
        ``now``, not from midnight, so the hour the demo is seeded changes nothing) and
        still waiting to be numbered, printed and shipped."""
        rng, now = self.rng, self.now
        created = now - _hours(rng.uniform(0.2, 20))
        paid = min(now, created + timedelta(minutes=rng.expovariate(1 / 4)))
        return {"created_at": created, "paid_at": paid, "status": S.PAID}

    def draw(self, created: datetime, remote: bool) -> dict:
        """The fields of an order created at ``created``, as they stand at ``now``."""
        rng, now = self.rng, self.now
        age = now - created
        f: dict = {"created_at": created}

        # 8% are never paid: reminded at 15 min and 16 h, cancelled at 48 h
        if rng.random() < 0.08 or age < timedelta(minutes=rng.expovariate(1 / 4)):
            f["reminders_sent"] = sum(age >= r for r in REMINDER_AFTER)
            if age < UNPAID_CANCEL_AFTER:
                f["status"] = S.UNPAID
            else:
                f.update(
                    status=S.CANCELLED,
                    cancelled_at=created + UNPAID_CANCEL_AFTER,
                    cancel_reason="unpaid_timeout",
                    reminders_sent=len(REMINDER_AFTER),
                )
            return f

        paid = created + timedelta(minutes=min(rng.expovariate(1 / 4), age.total_seconds() / 60))
        f["paid_at"] = paid
        slow = rng.random() < 0.06  # the merchant is behind on some orders
        by_hand = not self.no_source_risk and rng.random() < 0.12
        with_ready_stage = not by_hand and rng.random() < 0.75
        ready = paid + _hours(rng.uniform(30, 60) if slow else rng.uniform(1, 30))
        shipped = ready + _hours(rng.uniform(0.3, 10)) if with_ready_stage else ready
        picked = shipped + _hours(
            rng.uniform(40, 90) if rng.random() < 0.03 else rng.uniform(0.5, 8)
        )
        transit = picked + _hours(rng.uniform(1, 6))
        travel = rng.uniform(72, 190) if remote else rng.uniform(18, 90)
        delivered = transit + _hours(travel)

        # 5% are cancelled by the buyer before shipping
        if rng.random() < 0.05:
            cancelled = paid + (min(ready, paid + _hours(20)) - paid) * rng.random()
            if cancelled <= now:
                f.update(
                    status=S.CANCELLED,
                    cancelled_at=cancelled,
                    cancel_reason="buyer_request",
                    cancel_request_status=CancelRequestStatus.APPROVED,
                    cancel_requested_at=cancelled - _hours(rng.uniform(0.05, 6)),
                )
                return f

        if (with_ready_stage and ready <= now) or shipped <= now:
            f["carrier_code"], f["tracking_no"] = self.tracking(remote)
            f["has_waybill"] = not by_hand
            f["shipped_by_hand"] = by_hand
        if shipped > now:
            if with_ready_stage and ready <= now:
                f.update(status=S.READY_TO_SHIP, ready_to_ship_at=ready)
            else:
                f["status"] = S.PAID
            if rng.random() < 0.03:  # the buyer asked to cancel; the 48 h answer is pending
                since = max(paid, now - _hours(47))
                asked = since + (now - since) * rng.random()
                f.update(
                    cancel_request_status=CancelRequestStatus.PENDING, cancel_requested_at=asked
                )
            elif rng.random() < 0.01:
                f["address_changed_at"] = paid + (now - paid) * rng.random()
            return f

        if with_ready_stage:
            f["ready_to_ship_at"] = ready
        f["shipped_at"] = shipped
        f["status"] = S.SHIPPED
        if picked > now:
            return f
        f["picked_up_at"] = picked
        if transit > now:
            return f
        f.update(status=S.IN_TRANSIT, in_transit_at=transit)
        if rng.random() < 0.025:  # delivery fails: re-routed once, or returned after 12 days
            failed = transit + _hours(travel * rng.uniform(0.5, 1))
            if failed > now:
                return f
            f.update(status=S.DELIVERY_FAILED, failed_at=failed)
            if rng.random() < 0.5:
                rerouted = failed + _hours(rng.uniform(4, 72))
                if rerouted <= now:
                    f.update(status=S.IN_TRANSIT, rerouted_at=rerouted)
                    delivered = rerouted + _hours(rng.uniform(24, 72))
                    if delivered <= now:
                        f.update(status=S.DELIVERED, delivered_at=delivered)
            elif now - failed > REROUTE_WITHIN:
                f["status"] = S.RETURNED
            return f
        if delivered <= now:
            f.update(status=S.DELIVERED, delivered_at=delivered)
        return f


# --- the generator ---------------------------------------------------------------------------


def demo_orders_create(
    *,
    shop: Shop,
    count: int,
    now: datetime | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add ``count`` demo orders (with items and a "created" event) to ``shop``.

    Also creates the catalogue's products. ``progress(done, count)`` is called after
    each batch. Returns the number of orders created.
    """
    if count <= 0:
        return 0
    now = now or timezone.now()
    first_no = _next_order_number(shop)
    rng = random.Random(f"orders:{seed}:{first_no}")
    demo_products_create(shop=shop, seed=seed)

    pool = _receiver_pool(rng, min(RECEIVER_POOL, max(count, 50)))
    catalogue = [
        {"sku": sku, "product_name": name, "spec": spec, "unit_price": Decimal(price)}
        for sku, name, spec, price, _pop in PRODUCTS
    ]
    product = _Picker(range(len(catalogue)), [p[4] for p in PRODUCTS])
    item_count = _Picker([1, 2, 3, 4], ITEM_COUNT_WEIGHTS)
    quantity = _Picker([1, 2, 3, 5], QUANTITY_WEIGHTS)
    life = _Lifecycle(rng, now, shop.no_source_risk)
    # a backlog that does not depend on the clock: some orders always wait to be shipped
    backlog_size = min(count, max(BACKLOG_MIN, count * BACKLOG_SHARE // 100))
    waiting = set(rng.sample(range(count), backlog_size))

    created = 0
    while created < count:
        size = min(BATCH_SIZE, count - created)
        orders, order_items = [], []
        for i in range(size):
            # every run's first order goes to the example receiver (张三 13812345678)
            pick = 0 if created + i == 0 else rng.randrange(len(pool))
            rec, code, name_token, phone_token, detail_token = pool[pick]
            picked: list[int] = []
            for _ in range(item_count(rng)):
                p = product(rng)
                if p not in picked:
                    picked.append(p)
            items = [{**catalogue[p], "quantity": quantity(rng)} for p in picked]
            backlog = created + i in waiting
            if backlog:
                fields = life.waiting()
            else:
                fields = life.draw(life.created_at(), code in REMOTE_PROVINCES)
            status = fields.pop("status")
            order = order_build(
                shop=shop,
                data=OrderInput(
                    order_no=f"{ORDER_NO_PREFIX}{first_no + created + i:08d}",
                    items=items,
                    receiver=rec,
                    status=status,
                    paid_at=fields.pop("paid_at", None),
                    created_at=fields.pop("created_at"),
                    buyer_note=rng.choice(BUYER_NOTES) if rng.random() < 0.12 else "",
                ),
                now=now,
            )
            order.receiver_name, order.receiver_phone = name_token, phone_token
            order.receiver_detail = detail_token
            for key, value in fields.items():
                setattr(order, key, value)
            order.is_dropship = rng.random() < 0.1
            if status not in (S.UNPAID, S.CANCELLED) and not backlog:
                roll = rng.random()
                if roll < 0.055:
                    order.after_sale_status = AfterSaleStatus.IN_PROGRESS
                elif roll < 0.09 and status == S.DELIVERED:
                    order.after_sale_status = AfterSaleStatus.CLOSED
            order.sla_due_at = sla_next_due(order)
            orders.append(order)
            order_items.append(items)
        with transaction.atomic():
            Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
            OrderItem.objects.bulk_create(
                (
                    OrderItem(order_id=order.pk, **item)
                    for order, items in zip(orders, order_items, strict=True)
                    for item in items
                ),
                batch_size=BATCH_SIZE * 2,
            )
            OrderEvent.objects.bulk_create(
                (
                    OrderEvent(
                        order_id=order.pk,
                        at=order.created_at,
                        kind="created",
                        actor="demo",
                        data={"status": S.UNPAID if order.paid_at is None else S.PAID},
                    )
                    for order in orders
                ),
                batch_size=BATCH_SIZE,
            )
        created += size
        if progress:
            progress(created, count)
    return created
