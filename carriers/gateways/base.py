from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Receiver:
    province: str
    city: str
    district: str
    #: None when the street is sealed (an order's ciphertext): screening then works on the
    #: division, which intake already validated together with the street
    detail: str | None


@dataclass(frozen=True)
class ScreenResult:
    """What a label needs: the sort code (三段码), package centre (集包地), short address
    (大头笔)."""

    sort_code: str
    package_center_code: str
    package_center_name: str
    short_address_code: str
    short_address_name: str
    region_code: str
    services: list[str] = field(default_factory=list)


class CarrierGateway(Protocol):
    def screen(
        self, *, subscription, receiver: Receiver, services: list[str] | None = None
    ) -> ScreenResult: ...

    def issue_numbers(self, *, subscription, count: int = 1) -> list[str]: ...

    def cancel(self, *, subscription, waybill_no: str) -> None: ...
