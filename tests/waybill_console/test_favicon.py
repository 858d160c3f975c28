"""The favicon: every page links the SVG icon (and the ICO), and ``/favicon.ico``, which
browsers ask of every site, answers with the icon instead of a 404."""

from __future__ import annotations

import io

from defusedxml.ElementTree import fromstring
from django.contrib.staticfiles import finders
from PIL import Image


def test_favicon_ico_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/img/favicon.ico"
    served = client.get(response["Location"])
    assert served.status_code == 200 and served["Content-Type"] == "image/x-icon"
    with Image.open(io.BytesIO(b"".join(served.streaming_content))) as icon:
        assert icon.format == "ICO" and {(16, 16), (32, 32)} <= icon.info["sizes"]


def test_pages_link_the_icons_and_the_svg_is_an_svg(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in html
    assert '<link rel="icon" href="/static/img/favicon.ico" sizes="32x32">' in html
    with open(finders.find("img/favicon.svg"), "rb") as f:
        assert fromstring(f.read()).tag == "{http://www.w3.org/2000/svg}svg"
