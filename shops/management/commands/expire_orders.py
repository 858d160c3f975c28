"""expire_orders [--as-of ISO-8601]: one sweep of the order time rules."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shops.services import orders_apply_time_rules
from waybill_console.locks import advisory_lock


class Command(BaseCommand):
    help = "Apply the order time rules once (reminders, auto-cancel, SLA breaches, returns)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the clock to use, ISO-8601 (default: now)")

    def handle(self, *args, **opts):
        as_of = None
        if opts["as_of"]:
            as_of = parse_datetime(opts["as_of"])
            if as_of is None:
                raise CommandError("--as-of must be ISO-8601, e.g. 2026-11-23T10:00:00+08:00")
            if timezone.is_naive(as_of):
                as_of = timezone.make_aware(as_of)
        with advisory_lock("orders_apply_time_rules") as got:
            if not got:
                raise CommandError("another sweep is running")
            counts = orders_apply_time_rules(as_of=as_of)
        for key, value in counts.items():
            self.stdout.write(f"{key}: {value}")
