"""Re-encrypt every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS.

Plain text never leaves the crypto module; one audit row records the run.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from waybill_console.crypto import EncryptedTextField, Sealed, rotate_token
from waybill_console.models import DecryptionAudit


class Command(BaseCommand):
    help = "Re-encrypt consumer data with the newest key (after adding a key in front)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, **opts):
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            last_pk = 0
            while True:
                rows = list(
                    model.objects.filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", *fields)[: opts["batch_size"]]
                )
                if not rows:
                    break
                with transaction.atomic():
                    for row in rows:
                        for name in fields:
                            value = getattr(row, name)
                            if isinstance(value, Sealed):
                                setattr(row, name, Sealed(rotate_token(value.token)))
                    model.objects.bulk_update(rows, fields)
                total += len(rows)
                last_pk = rows[-1].pk
            self.stdout.write(f"{model._meta.label}: re-encrypted")
        DecryptionAudit.objects.create(
            purpose="key_rotation", model="*", object_pk="*", fields=[f"rows={total}"]
        )
        self.stdout.write(f"{total} rows re-encrypted with the newest key")
