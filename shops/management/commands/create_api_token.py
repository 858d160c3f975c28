"""create_api_token --shop SHOP_NO [--scopes a,b] | --carrier CODE --branch BRANCH_CODE

Prints the new key alone on stdout.
"""

from django.core.management.base import BaseCommand, CommandError

from carriers.models import Branch
from shops.models import Shop
from shops.services import api_token_create
from waybill_console.errors import AppError


class Command(BaseCommand):
    help = "Create an API token for a shop or a carrier branch; prints the key."

    def add_arguments(self, parser):
        parser.add_argument("--shop", help="shop number")
        parser.add_argument("--scopes", help="comma-separated permissions (default: all)")
        parser.add_argument("--carrier", help="carrier code, with --branch")
        parser.add_argument("--branch", help="branch code, with --carrier")
        parser.add_argument("--name", default="")

    def handle(self, *args, **opts):
        scopes = [s.strip() for s in opts["scopes"].split(",")] if opts["scopes"] else None
        shop = branch = None
        if opts["shop"]:
            shop = Shop.objects.filter(shop_no=opts["shop"]).first()
            if shop is None:
                raise CommandError(f"no shop with number {opts['shop']}")
        elif opts["carrier"] and opts["branch"]:
            branch = Branch.objects.filter(
                carrier__code=opts["carrier"].upper(), code=opts["branch"]
            ).first()
            if branch is None:
                raise CommandError(f"no branch {opts['branch']} of carrier {opts['carrier']}")
        else:
            raise CommandError("give --shop SHOP_NO, or --carrier CODE --branch BRANCH_CODE")
        try:
            _, key = api_token_create(
                shop=shop, branch=branch, scopes=scopes, name=opts["name"] or "command line"
            )
        except AppError as err:
            raise CommandError(f"{err.code}: {err.detail or err.render_message()}") from err
        self.stdout.write(key)
