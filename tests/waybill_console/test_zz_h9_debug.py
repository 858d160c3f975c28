from django.urls import reverse

from tests.waybill_console.test_page_walk import page_text, seeded  # noqa: F401


def test_dump(client, seeded):  # noqa: F811
    client.login(username="merchant", password="waybill-demo")
    r = client.post(
        reverse("console:address_list"),
        {"contact_name": "王", "phone": "123", "province": "火星省", "detail": "1 号"},
    )
    text = page_text(r.content.decode())
    i = text.find("部分字段")
    print(r.status_code, text[i - 50 : i + 400])
