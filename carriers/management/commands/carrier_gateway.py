"""carrier_gateway CODE [--use builtin|kuaidi100|sf] [credentials] [--url …]

Which gateway answers for one carrier, and the operator's account with it::

    manage.py carrier_gateway ZTO --use kuaidi100 --key KEY --secret SECRET \\
        [--url LABEL_ORDER_URL] [--poll-url POLL_URL] [--salt SALT]
    manage.py carrier_gateway SF --use sf --partner-id ID --check-word WORD [--url URL]
    manage.py carrier_gateway ZTO --use builtin      # back to the sandbox (credentials cleared)
    manage.py carrier_gateway ZTO                    # show the current setting

With the same ``--use`` again, options left out keep their current values (change the URL
without typing the secret again). A secret given as ``-`` is read from the terminal (or one
line of stdin), so that it stays out of the shell history and the process list. Secrets
are never printed: only "set" / "not set". The rules are the admin's
(:func:`carriers.services.gateway_configure`).
"""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from carriers.gateways import CONFIG_TTL
from carriers.models import Carrier, GatewayConfig
from carriers.services import gateway_configure, gateway_describe
from waybill_console.errors import ValidationError

Kind = GatewayConfig.Kind

#: option (its argparse dest) -> (service field, the kinds that take it)
OPTIONS = {
    "key": ("key", {Kind.KUAIDI100}),
    "secret": ("secret", {Kind.KUAIDI100}),
    "partner_id": ("key", {Kind.SF}),
    "check_word": ("secret", {Kind.SF}),
    "url": ("url", {Kind.KUAIDI100, Kind.SF}),
    "poll_url": ("poll_url", {Kind.KUAIDI100}),
    "salt": ("callback_salt", {Kind.KUAIDI100, Kind.SF}),
}
SECRET_OPTIONS = ("secret", "check_word", "salt")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


class Command(BaseCommand):
    help = (
        "Show or set the gateway of one carrier: the built-in sandbox, Kuaidi100 (快递100) "
        "or SF Express (丰桥). Secrets are stored encrypted and never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("carrier", help="carrier code, e.g. ZTO or SF")
        parser.add_argument("--use", choices=Kind.values, help="the gateway to use")
        parser.add_argument("--key", help="Kuaidi100: the API key (授权key)")
        parser.add_argument("--secret", help="Kuaidi100: the API secret ('-': ask)")
        parser.add_argument("--partner-id", help="SF: partnerID (顾客编码)")
        parser.add_argument("--check-word", help="SF: checkWord (校验码; '-': ask)")
        parser.add_argument("--url", help="order URL (default: the carrier's production URL)")
        parser.add_argument("--poll-url", help="Kuaidi100: tracking subscription URL")
        parser.add_argument(
            "--salt",
            help="Kuaidi100: what pushes are signed with (default: kept, or a random one); "
            "SF: the token of the push URL given to SF ('-': ask)",
        )

    def handle(self, *args, **opts):
        code = opts["carrier"].strip().upper()
        if not Carrier.objects.filter(code=code).exists():
            known = ", ".join(Carrier.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"unknown carrier code {code!r} (known: {known})")
        kind = opts["use"]
        given = [dest for dest in OPTIONS if opts[dest] is not None]
        if kind is None:
            if given:
                raise CommandError(f"{_flag(given[0])} needs --use ({', '.join(Kind.values)})")
            self._show(code)
            return
        for dest in given:
            kinds = OPTIONS[dest][1]
            if kind not in kinds:
                takers = " or ".join(sorted(f"--use {k}" for k in kinds))
                raise CommandError(f"{_flag(dest)} is not used with --use {kind} (only {takers})")
        fields = {}
        for dest in given:
            value = opts[dest]
            if dest in SECRET_OPTIONS and value == "-":
                value = self._ask(_flag(dest))
            fields[OPTIONS[dest][0]] = value
        try:
            gateway_configure(carrier=code, kind=kind, **fields)
        except ValidationError as err:
            raise CommandError(self._explain(err, kind)) from err
        self._show(code)
        self.stdout.write(f"Saved. Running processes use it within {CONFIG_TTL:.0f} seconds.")

    def _ask(self, flag: str) -> str:
        if sys.stdin.isatty():
            return getpass.getpass(f"{flag}: ")
        return sys.stdin.readline().rstrip("\r\n")

    def _explain(self, err: ValidationError, kind: str) -> str:
        """The service's field errors, each named by the option that sets that field."""
        names = {"kind": "--use"}
        for dest, (field, kinds) in OPTIONS.items():
            if kind in kinds:
                names[field] = _flag(dest)
        return "; ".join(
            f"{names.get(field, field)}: {' '.join(messages)}"
            for field, messages in err.detail.items()
        )

    def _show(self, code: str) -> None:
        described = gateway_describe(carrier=code)
        kind = described["kind"]
        self.stdout.write(f"{described['carrier']} {described['name']}: {kind}")
        if kind == Kind.BUILTIN:
            self.stdout.write("  the built-in sandbox (no carrier account)")
            return
        key_name, secret_name = (
            ("partner id", "check word") if kind == Kind.SF else ("key", "secret")
        )
        rows = [
            (key_name, described["key"] or "not set"),
            (secret_name, "set" if described["secret"] else "not set"),
            ("url", described["url"]),
        ]
        if kind == Kind.KUAIDI100:
            rows.append(("poll url", described["poll_url"]))
        rows.append(("push salt", "set" if described["callback_salt"] else "not set"))
        if described["updated_at"]:
            updated = timezone.localtime(described["updated_at"])
            rows.append(("updated", updated.isoformat(timespec="seconds")))
        for label, value in rows:
            self.stdout.write(f"  {label:<11} {value}")
