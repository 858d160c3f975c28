"""Demo data (idempotent): merchants 100001 and 100002, factory 200001, an ops superuser.

``--orders N`` adds N demo orders to shop 100001 (or ``--shop``) on top, each time it runs.
"""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dropship.models import DropshipProfile
from shops.demo.orders import demo_orders_create
from shops.models import Membership, Shop, ShopType
from waybill_console import permissions as perms

DEMO_PASSWORD = "waybill-demo"  # nosec B105

SHOPS = [
    # shop_no, name, type, main account
    ("100001", "星河家居旗舰店", ShopType.FLAGSHIP, "merchant"),
    ("100002", "星河数码专营店", ShopType.FRANCHISE, "merchant"),
    ("200001", "义乌优品工厂", ShopType.ENTERPRISE, "factory"),
]
SUB_ACCOUNTS = [
    # username, shop_no, display name, permissions
    ("packer", "100001", "打包员小王", [perms.WAYBILL_ALLOCATE, perms.PRINT, perms.SHIP]),
]


class Command(BaseCommand):
    help = "Create or refresh the demo shops and logins (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument(
            "--orders", type=int, default=0, metavar="N", help="add N demo orders (not idempotent)"
        )
        parser.add_argument("--shop", default="100001", metavar="SHOP_NO", help="for --orders")
        parser.add_argument(
            "--if-empty", action="store_true", help="add the --orders only if the shop has none"
        )
        parser.add_argument(
            "--waybills",
            action="store_true",
            help="open a recharged ZTO service for 100001 and 200001 and draw numbers for "
            "some paid orders of 100001 (once)",
        )

    def handle(self, *args, **options):
        if options["orders"] < 0:
            raise CommandError("--orders must be 0 or more")
        self.seed_base(options)
        if options["orders"]:
            self.seed_orders(options)
        if options["waybills"]:
            self.seed_waybills(options)

    def seed_waybills(self, options):
        """An active, recharged ZTO service for the demo merchant and factory, and numbers
        for some of the merchant's paid orders (once), so usage details have something."""
        from carriers import services as carrier_services
        from carriers.models import Branch, Subscription
        from shops.models import Order
        from waybill_console.tenancy import Actor
        from waybills.models import Waybill
        from waybills.services import waybill_allocate_many, waybill_cancel

        branch = Branch.objects.get(carrier__code="ZTO", code="331001")
        ops = Actor(shop=None, branch=branch)
        for shop in Shop.objects.filter(shop_no__in=["100001", "200001"]).order_by("shop_no"):
            if Subscription.objects.filter(shop=shop, carrier=branch.carrier).exists():
                continue
            address = shop.addresses.order_by("pk").first()
            sub = carrier_services.subscription_apply(
                actor=Actor.system(shop=shop),
                carrier="ZTO",
                branch=branch.code,
                address=address.pk,
                contact_name=address.contact_name,
                contact_phone=address.phone,
                agree=True,
            )
            carrier_services.subscription_approve(actor=ops, subscription=sub)
            carrier_services.subscription_recharge(actor=ops, subscription=sub, count=5000)
        shop = Shop.objects.get(shop_no="100001")
        if Waybill.objects.filter(shop=shop).exists():
            return
        orders = list(
            Order.objects.filter(shop=shop, status="paid", after_sale_status="none")
            .exclude(cancel_request_status="pending")
            .filter(waybills__isnull=True)
            .order_by("-created_at")[:80]
        )
        # numbers for half of them: the other half stays the backlog to number and print
        orders = orders[: max(2, len(orders) // 2)][:40]
        if not orders:
            return
        actor = Actor.system(shop=shop)
        waybill_allocate_many(actor=actor, orders=orders, carrier="ZTO")
        for waybill in Waybill.objects.filter(shop=shop).order_by("pk")[:2]:
            waybill_cancel(actor=actor, waybill=waybill)
        if not options["quiet"]:
            self.stdout.write(f"Drew {len(orders)} demo waybill numbers for shop {shop.shop_no}")

    def seed_orders(self, options):
        shop = Shop.objects.filter(shop_no=options["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop {options['shop']}")
        count, quiet = options["orders"], options["quiet"]
        if options["if_empty"] and shop.orders.exists():
            return
        started = time.monotonic()

        def progress(done, total):
            if not quiet and total > 5000:
                rate = done / max(time.monotonic() - started, 1e-6)
                self.stdout.write(f"  {done:>9,} / {total:,} orders  ({rate:,.0f}/s)")

        created = demo_orders_create(shop=shop, count=count, progress=progress)
        if not quiet:
            seconds = time.monotonic() - started
            self.stdout.write(
                f"Added {created:,} demo orders to shop {shop.shop_no} in {seconds:.1f} s "
                f"({created / max(seconds, 1e-6):,.0f} orders/s)"
            )

    @transaction.atomic
    def seed_base(self, options):
        from carriers import catalog
        from carriers.models import Carrier

        catalog.load(Carrier)  # also after a flush, not only through the migration
        from carriers.demo import demo_branches_create

        demo_branches_create()
        User = get_user_model()

        def user(username, **extra):
            u, created = User.objects.get_or_create(username=username, defaults=extra)
            if created:
                u.set_password(DEMO_PASSWORD)
                u.save()
            return u

        ops = user("ops", is_staff=True, is_superuser=True)
        if not ops.is_superuser:
            ops.is_staff = ops.is_superuser = True
            ops.save()
        for shop_no, name, shop_type, main in SHOPS:
            shop, _ = Shop.objects.get_or_create(
                shop_no=shop_no, defaults={"name": name, "shop_type": shop_type}
            )
            Membership.objects.get_or_create(
                shop=shop, role=Membership.Role.MAIN, defaults={"user": user(main)}
            )
            identity = "factory" if shop_no.startswith("2") else "merchant"
            defaults = {"identity": identity}
            if identity == "merchant":  # the name and sender its factories print
                defaults.update(
                    display_name=f"{name}代发",
                    sender_name="星河仓储",
                    sender_phone="13800571000",
                    sender_province="浙江省",
                    sender_city="杭州市",
                    sender_district="余杭区",
                    sender_detail="良渚街道好运路 8 号",
                )
            DropshipProfile.objects.get_or_create(shop=shop, defaults=defaults)
            if not shop.addresses.exists():
                from shops.regions import resolve

                province, city, district = resolve("浙江省", "杭州市", "余杭区")
                shop.addresses.create(
                    contact_name="仓库王主管",
                    phone="13800571000",
                    province=province.name,
                    province_code=province.code,
                    city=city.name,
                    city_code=city.code,
                    district=district.name,
                    district_code=district.code,
                    street="仓前街道",
                    detail=f"文一西路 1{shop_no[-2:]} 号 {name} 仓库",
                    is_default_sender=True,
                    is_default_return=True,
                )
        for username, shop_no, display, granted in SUB_ACCOUNTS:
            Membership.objects.get_or_create(
                user=user(username),
                shop=Shop.objects.get(shop_no=shop_no),
                defaults={
                    "role": Membership.Role.SUB,
                    "permissions": granted,
                    "display_name": display,
                },
            )

        if not options["quiet"]:
            self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
            self.stdout.write("  merchant  main account of shops 100001 and 100002")
            self.stdout.write("  packer    sub-account of 100001 (allocate, print, ship)")
            self.stdout.write("  factory   main account of factory 200001")
            self.stdout.write("  ops       operator staff (Django admin at /admin/)")
