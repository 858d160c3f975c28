"""Subscription.secret_key encrypted at rest: the column becomes ciphertext (text) and the
keys already stored in clear are encrypted in place, in keyset batches. Reversible: the
way back decrypts them."""

from cryptography.fernet import InvalidToken
from django.db import migrations

import waybill_console.crypto

BATCH = 2000


def _rewrite(apps, schema_editor, change) -> None:
    """Apply ``change(value) -> new value or None (leave it)`` to every stored key, with
    raw SQL: the field's own conversion would take a plain value for a token."""
    with schema_editor.connection.cursor() as cursor:
        last = 0
        while True:
            cursor.execute(
                "SELECT id, secret_key FROM carriers_subscription"
                " WHERE id > %s AND secret_key <> '' ORDER BY id LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            for pk, value in rows:
                new = change(value)
                if new is not None:
                    cursor.execute(
                        "UPDATE carriers_subscription SET secret_key = %s WHERE id = %s",
                        [new, pk],
                    )
            last = rows[-1][0]


def _is_token(value: str) -> bool:
    try:
        waybill_console.crypto.fernet().decrypt(value.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        return False
    return True


def encrypt_keys(apps, schema_editor):
    _rewrite(
        apps,
        schema_editor,
        lambda value: None if _is_token(value) else waybill_console.crypto.encrypt(value),
    )


def decrypt_keys(apps, schema_editor):
    _rewrite(
        apps,
        schema_editor,
        lambda value: (
            waybill_console.crypto.fernet().decrypt(value.encode("ascii")).decode("utf-8")
            if _is_token(value)
            else None
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("carriers", "0010_carrier_gateways"),
    ]

    operations = [
        migrations.AlterField(
            model_name="subscription",
            name="secret_key",
            field=waybill_console.crypto.EncryptedTextField(blank=True, verbose_name="secret key"),
        ),
        migrations.RunPython(encrypt_keys, decrypt_keys),
    ]
