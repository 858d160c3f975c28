"""check_ledger: prove every subscription's counters equal its ledger's sums."""

from django.core.management.base import BaseCommand, CommandError

from carriers.models import Subscription
from carriers.services import ledger_check


class Command(BaseCommand):
    help = "Compare each subscription's balance / allocated / recycled with its quota ledger."

    def handle(self, *args, **options):
        problems = ledger_check()
        for p in problems:
            self.stdout.write(
                f"subscription {p['subscription']}: {p['field']} is {p['counter']}, "
                f"ledger says {p['ledger']}"
            )
        if problems:
            raise CommandError(f"{len(problems)} counter(s) differ from the ledger")
        self.stdout.write(f"ledger OK: {Subscription.objects.count()} subscriptions checked")
