"""recycle_waybills [--as-of ISO-8601]: one recycling sweep (beat runs it every hour)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waybills.services import waybills_recycle


class Command(BaseCommand):
    help = (
        "Recycle unused waybill numbers of franchise carriers (cancelled + 15 days, or idle "
        "30 days, without tracking) and return them to the balance."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="the clock to use, ISO-8601 (default: now)")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, **opts):
        as_of = None
        if opts["as_of"]:
            as_of = parse_datetime(opts["as_of"])
            if as_of is None:
                raise CommandError("--as-of must be ISO-8601, e.g. 2026-11-23T10:00:00+08:00")
            if timezone.is_naive(as_of):
                as_of = timezone.make_aware(as_of)
        counts = waybills_recycle(as_of=as_of, batch_size=opts["batch_size"])
        if counts.get("skipped"):
            raise CommandError("another sweep is running")
        for key, value in counts.items():
            self.stdout.write(f"{key}: {value}")
