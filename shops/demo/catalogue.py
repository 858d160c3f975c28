"""The demo catalogue (a home-goods flagship store), what buyers write, how many items an
order has, and :func:`demo_products_create`, which makes the catalogue a shop's products."""

from __future__ import annotations

import random

from shops.models import Product, Shop

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

ITEM_COUNT_WEIGHTS = [62, 24, 10, 4]  # 1, 2, 3, 4 items
QUANTITY_WEIGHTS = [80, 14, 5, 1]  # 1, 2, 3, 5


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
