"""Reading the confirmation step (``components/confirm.html``) the way a browser posts it."""

from __future__ import annotations

import re
from html import unescape

_FORM = re.compile(r'<section class="card confirm-card".*?<form method="post" action="([^"]*)"'
                   r"(.*?)</form>", re.S)  # fmt: skip
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
_QUESTION = re.compile(r'data-testid="confirm-question">(.*?)</p>', re.S)


def question(html: str) -> str:
    """The confirmation's question (确认发货 N 个订单？此操作不可撤销。), or ''."""
    found = _QUESTION.search(html)
    return unescape(found.group(1)).strip() if found else ""


def confirmed_post(html: str) -> tuple[str, dict[str, list[str]]]:
    """Where the confirm button posts and what: every hidden field (but the CSRF token,
    which the test client does not check), as the page renders them."""
    found = _FORM.search(html)
    assert found, html[:800]
    data: dict[str, list[str]] = {}
    for name, value in _HIDDEN.findall(found.group(2)):
        if name != "csrfmiddlewaretoken":
            data.setdefault(unescape(name), []).append(unescape(value))
    return unescape(found.group(1)), data
