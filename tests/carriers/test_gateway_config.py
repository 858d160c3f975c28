"""Carrier gateway configuration by command and admin (secrets write-only, never printed
or rendered back), ops' read-only call log, and secrets encrypted at rest: the gateway's
and each subscription's secret key (also the migration that encrypted existing keys)."""

from __future__ import annotations

import importlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from carriers import services
from carriers.demo import demo_branches_create
from carriers.gateways import gateway_for
from carriers.gateways.builtin import BuiltinGateway
from carriers.models import Branch, Carrier, GatewayCall, GatewayConfig, Subscription
from shops import services as shop_services
from tests.conftest import ensure_carrier_catalog, main_actor, make_user, token_client
from waybill_console.crypto import Sealed, open_secret

pytestmark = pytest.mark.django_db

KEY, SECRET, SALT = "k100-key-4711", "k100-secret-0815", "push-salt-2024"
PARTNER, CHECK_WORD = "SFPARTNER01", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"


@pytest.fixture(autouse=True)
def catalog(db):
    ensure_carrier_catalog()


def run(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("carrier_gateway", *args, stdout=out)
    return out.getvalue()


def config(code: str = "ZTO") -> GatewayConfig:
    return GatewayConfig.objects.get(carrier__code=code)


def raw_row(table: str, columns: str, pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


# --- the command --------------------------------------------------------------------------


def test_the_command_sets_kuaidi100_with_default_urls_and_never_prints_secrets():
    out = run("zto", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET, "--salt", SALT)

    saved = config()
    assert (saved.kind, saved.key) == ("kuaidi100", KEY)
    assert (saved.url, saved.poll_url) == (
        "https://api.kuaidi100.com/label/order",
        "https://poll.kuaidi100.com/poll",
    )
    assert isinstance(saved.secret, Sealed) and open_secret(saved.secret) == SECRET
    assert open_secret(saved.callback_salt) == SALT
    assert "ZTO" in out and "kuaidi100" in out
    assert "secret      set" in out and "push salt   set" in out
    for secret in (SECRET, SALT, KEY, saved.secret.token):
        assert secret not in out


def test_the_command_reads_the_setting_without_secrets():
    run("ZTO", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET)

    out = run("ZTO")

    assert out.splitlines()[0] == "ZTO 中通快递: kuaidi100"
    assert "k1*********11" in out  # the account key masked
    assert "secret      set" in out
    assert "https://api.kuaidi100.com/label/order" in out
    assert SECRET not in out and KEY not in out


def test_a_carrier_without_configuration_reads_as_the_builtin_sandbox():
    out = run("YTO")

    assert out.splitlines() == [
        f"YTO {Carrier.objects.get(code='YTO').name}: builtin",
        "  the built-in sandbox (no carrier account)",
    ]
    assert not GatewayConfig.objects.exists()


def test_the_same_kind_again_keeps_what_is_not_given():
    run("ZTO", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET)
    salt = open_secret(config().callback_salt)
    assert len(salt) >= 24  # none given: a random one, kept from now on

    run("ZTO", "--use", "kuaidi100", "--url", "https://label.example.test/order")

    saved = config()
    assert (saved.key, open_secret(saved.secret)) == (KEY, SECRET)
    assert saved.url == "https://label.example.test/order"
    assert saved.poll_url == "https://poll.kuaidi100.com/poll"
    assert open_secret(saved.callback_salt) == salt


def test_the_command_sets_sf_with_its_default_url():
    out = run("SF", "--use", "sf", "--partner-id", PARTNER, "--check-word", CHECK_WORD)

    saved = config("SF")
    assert (saved.kind, saved.key, saved.poll_url) == ("sf", PARTNER, "")
    assert saved.url == "https://bspgw.sf-express.com/std/service"
    assert open_secret(saved.secret) == CHECK_WORD
    assert saved.callback_salt == ""  # SF's push token is chosen by ops, never made up
    assert "check word  set" in out and "push salt   not set" in out
    assert CHECK_WORD not in out and PARTNER not in out

    run("SF", "--use", "sf", "--salt", SALT)

    assert open_secret(config("SF").callback_salt) == SALT
    assert open_secret(config("SF").secret) == CHECK_WORD


def test_a_secret_given_as_dash_is_read_from_stdin(monkeypatch):
    run(
        "SF",
        "--use",
        "sf",
        "--partner-id",
        PARTNER,
        "--check-word",
        "-",
        stdin=CHECK_WORD + "\n",
        monkeypatch=monkeypatch,
    )

    assert open_secret(config("SF").secret) == CHECK_WORD


def test_use_builtin_goes_back_to_the_sandbox_and_clears_the_credentials():
    run("ZTO", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET)

    out = run("ZTO", "--use", "builtin")

    saved = config()
    assert (saved.kind, saved.key, saved.secret, saved.url, saved.callback_salt) == (
        "builtin",
        "",
        "",
        "",
        "",
    )
    assert raw_row("carriers_gatewayconfig", "secret, callback_salt", saved.pk) == ("", "")
    assert isinstance(gateway_for("ZTO"), BuiltinGateway)
    assert "built-in sandbox" in out


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["XYZ", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET], "'XYZ'"),
        (["ZTO", "--use", "kuaidi100", "--key", KEY], "--secret"),
        (["ZTO", "--use", "kuaidi100", "--secret", SECRET], "--key"),
        (["SF", "--use", "sf", "--check-word", CHECK_WORD], "--partner-id"),
        (["SF", "--use", "sf", "--partner-id", PARTNER], "--check-word"),
        (["SF", "--use", "sf", "--key", KEY, "--check-word", CHECK_WORD], "--key"),
        (
            [
                "SF",
                "--use",
                "sf",
                "--partner-id",
                PARTNER,
                "--check-word",
                "x",
                "--poll-url",
                "https://p.test/",
            ],
            "--poll-url",
        ),
        (["ZTO", "--use", "builtin", "--secret", SECRET], "--secret"),
        (
            ["ZTO", "--use", "kuaidi100", "--key", KEY, "--secret", SECRET, "--url", "ftp://x"],
            "--url",
        ),
        (["ZTO", "--key", KEY], "--use"),
    ],
)
def test_refusals_name_the_option_and_save_nothing(args, named):
    with pytest.raises(CommandError) as refused:
        run(*args)

    assert named in str(refused.value)
    assert SECRET not in str(refused.value)
    assert not GatewayConfig.objects.exists()


# --- the admin ----------------------------------------------------------------------------


@pytest.fixture
def superuser(client):
    user = get_user_model().objects.create_superuser("ops-root", password="pass-12345")
    client.force_login(user)
    return client


@pytest.fixture
def staff(client):
    user = make_user("ops-staff")
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_the_admin_never_renders_a_gateway_secret_and_keeps_it_when_left_empty(superuser):
    services.gateway_configure(
        carrier="ZTO", kind="kuaidi100", key=KEY, secret=SECRET, callback_salt=SALT
    )
    saved = config()
    url = reverse("admin:carriers_gatewayconfig_change", args=[saved.pk])

    page = superuser.get(url).content.decode()
    listing = superuser.get(reverse("admin:carriers_gatewayconfig_changelist")).content.decode()

    for secret in (SECRET, SALT, saved.secret.token, saved.callback_salt.token):
        assert secret not in page and secret not in listing
    assert 'type="password" name="secret"' in page
    posted = superuser.post(
        url, {"kind": "kuaidi100", "key": KEY, "secret": "", "url": "", "poll_url": ""}
    )
    assert posted.status_code == 302
    kept = config()
    assert (open_secret(kept.secret), open_secret(kept.callback_salt)) == (SECRET, SALT)
    assert kept.url == "https://api.kuaidi100.com/label/order"

    superuser.post(url, {"kind": "kuaidi100", "key": KEY, "secret": "new-secret-1"})
    assert open_secret(config().secret) == "new-secret-1"


def test_the_admin_adds_a_gateway_through_the_same_rules(superuser):
    add = reverse("admin:carriers_gatewayconfig_add")
    sf = Carrier.objects.get(code="SF")

    refused = superuser.post(add, {"carrier": sf.pk, "kind": "sf", "key": PARTNER, "secret": ""})
    assert refused.status_code == 200 and not GatewayConfig.objects.exists()
    assert refused.context["adminform"].form.errors["secret"]

    added = superuser.post(
        add, {"carrier": sf.pk, "kind": "sf", "key": PARTNER, "secret": CHECK_WORD}
    )
    assert added.status_code == 302
    saved = config("SF")
    assert saved.url == "https://bspgw.sf-express.com/std/service"
    assert open_secret(saved.secret) == CHECK_WORD


def test_gateway_admin_and_call_log_are_for_superusers_only(staff):
    assert staff.get(reverse("admin:carriers_gatewayconfig_changelist")).status_code == 403
    assert staff.get(reverse("admin:carriers_gatewaycall_changelist")).status_code == 403


def test_the_call_log_is_read_only_filtered_and_searchable_by_carrier_order_id(superuser):
    for order_id, ok in (("WB-1", True), ("WB-2", False)):
        GatewayCall.objects.create(
            kind="kuaidi100",
            account=KEY,
            operation="order",
            carrier_order_id=order_id,
            url="https://api.kuaidi100.com/label/order",
            ok=ok,
        )
    listing = reverse("admin:carriers_gatewaycall_changelist")

    found = superuser.get(listing, {"q": "WB-2"})
    failed = superuser.get(listing, {"ok__exact": "0", "kind": "kuaidi100"})

    assert [c.carrier_order_id for c in found.context["cl"].result_list] == ["WB-2"]
    assert [c.carrier_order_id for c in failed.context["cl"].result_list] == ["WB-2"]
    filters = {spec.field_path for spec in found.context["cl"].filter_specs}
    assert {"kind", "ok", "operation"} <= filters
    call = GatewayCall.objects.get(carrier_order_id="WB-1")
    detail = superuser.get(reverse("admin:carriers_gatewaycall_change", args=[call.pk]))
    assert detail.status_code == 200 and KEY not in detail.content.decode()
    assert superuser.get(reverse("admin:carriers_gatewaycall_add")).status_code == 403
    assert (
        superuser.post(reverse("admin:carriers_gatewaycall_delete", args=[call.pk])).status_code
        == 403
    )


# --- a subscription's secret key ---------------------------------------------------------


@pytest.fixture
def yunda_application(shop_a):
    demo_branches_create()
    address = shop_services.address_create(
        actor=main_actor(shop_a),
        data={
            "contact_name": "王仓管",
            "phone": "13800001111",
            "province": "浙江省",
            "city": "杭州市",
            "district": "余杭区",
            "detail": "文一西路 1 号",
        },
    )
    branch = Branch.objects.filter(carrier__code="YUNDA", region_code__startswith="33").first()
    return {
        "carrier": "YUNDA",
        "branch": branch.code,
        "address": address.pk,
        "contact_name": "王经理",
        "contact_phone": "13800001111",
        "agree": True,
        "secret_key": "yd-partner-key-42",
    }


def test_a_subscription_secret_key_is_stored_encrypted_and_no_api_answer_shows_it(
    shop_a, yunda_application
):
    client = token_client(shop_a)

    applied = client.post("/api/v1/subscriptions/", yunda_application, format="json")

    assert applied.status_code == 201
    sub = Subscription.objects.get(pk=applied.json()["id"])
    (stored,) = raw_row("carriers_subscription", "secret_key", sub.pk)
    assert stored and "yd-partner-key-42" not in stored
    assert open_secret(sub.secret_key) == "yd-partner-key-42"
    answers = [
        applied.content,
        client.get("/api/v1/subscriptions/").content,
        client.get(f"/api/v1/subscriptions/{sub.pk}/").content,
    ]
    for answer in answers:
        assert b"yd-partner-key-42" not in answer and stored.encode() not in answer
        assert b"secret_key" not in answer


def test_the_subscription_admin_never_renders_the_secret_key_and_keeps_it(
    superuser, shop_a, yunda_application
):
    sub = services.subscription_apply(actor=main_actor(shop_a), **yunda_application)
    sub.refresh_from_db()
    url = reverse("admin:carriers_subscription_change", args=[sub.pk])

    page = superuser.get(url).content.decode()

    assert "yd-partner-key-42" not in page and sub.secret_key.token not in page
    assert 'type="password" name="secret_key"' in page
    form = {
        "shop": sub.shop_id,
        "carrier": sub.carrier_id,
        "branch": sub.branch_id,
        "address": sub.address_id,
        "contact_name": "王经理",
        "contact_phone": "13800001111",
        "monthly_account": "",
        "secret_key": "",
        "services": "[]",
        "agreed_at_0": "2026-11-01",
        "agreed_at_1": "08:00:00",
        "reject_reason": "",
        "cancel_basis": "0",
        "ledger-TOTAL_FORMS": "0",
        "ledger-INITIAL_FORMS": "0",
        "ledger-MIN_NUM_FORMS": "0",
        "ledger-MAX_NUM_FORMS": "1000",
    }
    saved = superuser.post(url, {**form, "contact_name": "李经理"})
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    sub.refresh_from_db()
    assert sub.contact_name == "李经理"
    assert open_secret(sub.secret_key) == "yd-partner-key-42"

    superuser.post(url, {**form, "secret_key": "yd-new-key-43"})
    sub.refresh_from_db()
    assert open_secret(sub.secret_key) == "yd-new-key-43"


def test_the_migration_encrypts_the_keys_stored_in_clear_and_the_way_back_decrypts(
    shop_a, yunda_application
):
    migration = importlib.import_module(
        "carriers.migrations.0011_subscription_secret_key_encrypted"
    )
    sub = services.subscription_apply(actor=main_actor(shop_a), **yunda_application)
    with connection.cursor() as cursor:  # as the column held it before the migration
        cursor.execute(
            "UPDATE carriers_subscription SET secret_key = %s WHERE id = %s",
            ["plain-key-1", sub.pk],
        )

    with connection.schema_editor() as editor:
        migration.encrypt_keys(None, editor)
        (once,) = raw_row("carriers_subscription", "secret_key", sub.pk)
        migration.encrypt_keys(None, editor)  # a token is left as it is
        (twice,) = raw_row("carriers_subscription", "secret_key", sub.pk)

    assert once != "plain-key-1" and twice == once
    sub.refresh_from_db()
    assert open_secret(sub.secret_key) == "plain-key-1"
    with connection.schema_editor() as editor:
        migration.decrypt_keys(None, editor)
    assert raw_row("carriers_subscription", "secret_key", sub.pk) == ("plain-key-1",)
