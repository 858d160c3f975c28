"""Kuaidi100 (快递100): the carrier-code catalog and the answer codes mapped onto our errors.

Pure data and mapping, no I/O; the adapter is :mod:`carriers.gateways.kuaidi100`, its
contract notes ``shared/contracts/kuaidi100.md`` ([off] = the vendor's own SDK or page,
[3p] = third party).

**Codes → our errors** (apifox project-514987 ``api-55456473``: -1, 30001–30004, 30009):
30004 账号单量不足 → QUOTA_INSUFFICIENT (单号余额不足,请尽快联系网点申购); 30002 验证签名失败
→ GATEWAY_SIGNATURE_INVALID (the operator's key/secret); 30003 账号信息不正确 →
MONTHLY_ACCOUNT_INVALID (商家编码不存在/月结账号失效,请与物流公司核实); 30001 and any other
code, -1 included → ALLOCATION_FAILED with the carrier's code and message in ``detail``.
All are definite (the quota is released). The transport turns HTTP 5xx and time-outs
after its retries into ALLOCATION_TIMEOUT (outcome unknown: the reservation is kept and
settled by replaying the same ``orderId``); an HTTP 200 whose body is not a readable
answer is ALLOCATION_FAILED with the outcome unknown for the same reason.
"""

from __future__ import annotations

from carriers import errors
from waybill_console.errors import AppError

KIND = "kuaidi100"

#: our carrier code -> Kuaidi100's ``kuaidicom``. [off] java-demo ``contant/CompanyConstant.java``
#: (shunfeng … debangkuaidi); POSTB: [off] PyPI kuaidi100-mcp 0.1.3 ``api_mcp.py``; FENGWANG:
#: apifox ``api-8589437`` (supported list); ZTOINTL: ``zhongtongguoji`` (中通国际) from [3p]
#: company lists only (not confirmed for e-waybills: the API refuses it with 30001 if not)
KUAIDICOM = {
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "STO": "shentong",
    "YUNDA": "yunda",
    "EMS": "ems",
    "JD": "jd",
    "JT": "jtexpress",
    "DEPPON": "debangkuaidi",
    "SF": "shunfeng",
    "POSTB": "youzhengguonei",
    "FENGWANG": "fengwang",
    "ZTOINTL": "zhongtongguoji",
}
CARRIER_OF = {com: code for code, com in KUAIDICOM.items()}

OK = 200
BAD_PARAMS, SIGNATURE_WRONG, ACCOUNT_WRONG, QUOTA_EMPTY = 30001, 30002, 30003, 30004
NOT_FOUND = 30009
#: refusals of a replayed order that say the carrier issued nothing under its ``orderId``
NOTHING_ISSUED = {BAD_PARAMS, QUOTA_EMPTY}


def kuaidicom_for(carrier_code: str) -> str:
    com = KUAIDICOM.get(carrier_code)
    if com is None:
        raise errors.AllocationFailed(
            detail={"error": f"no Kuaidi100 company code for carrier {carrier_code}"}
        )
    return com


def refusal(code, message: str) -> AppError:
    """The carrier's refusal as our error (definite: nothing was issued by this call)."""
    detail = {"carrier_code": code, "carrier_message": str(message or "")[:200]}
    if code == QUOTA_EMPTY:
        return errors.QuotaInsufficient(detail=detail)
    if code == SIGNATURE_WRONG:
        return errors.GatewaySignatureInvalid(gateway="快递100", detail=detail)
    if code == ACCOUNT_WRONG:
        return errors.MonthlyAccountInvalid(detail=detail)
    return errors.AllocationFailed(detail=detail)


def unknown_outcome(reason: str) -> AppError:
    """An answer we cannot read: the carrier may have issued (the reservation is kept and
    settled by replaying the same ``orderId``)."""
    err = errors.AllocationFailed(detail={"error": reason})
    err.outcome_unknown = True
    return err
