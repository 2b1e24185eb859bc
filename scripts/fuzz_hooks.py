"""Schemathesis hooks for scripts/fuzz.ts (loaded with SCHEMATHESIS_HOOKS=fuzz_hooks).

Random uuids almost never name a store of the node, so most generated requests would stop at
404 STORE_NOT_FOUND or 403 before the code that handles data. For most valid (positive) cases the
ids are replaced by the ones the fuzz run created: the store, the device that holds the token, the
peer, a dead letter and the vendor of the agent that holds the token. Negative cases are left as generated: their violation may be that very id.
Every response is appended to FUZZ_LOG as one JSON line, the figures the runner prints.
"""

import json
import os
import random
import time

import schemathesis
from schemathesis import GenerationMode

STORE_ID = os.environ["FUZZ_STORE_ID"]
DEVICE_ID = os.environ.get("FUZZ_DEVICE_ID", "")
# The registered agent's vendor (agent run only): an agent may push for its own vendor only.
VENDOR_ID = os.environ.get("FUZZ_VENDOR_ID", "")
PEER_ID = os.environ.get("FUZZ_PEER_ID", "")
DEAD_LETTER_ID = os.environ.get("FUZZ_DEAD_LETTER_ID", "")
PRODUCT_ID = os.environ.get("FUZZ_PRODUCT_ID", "")
DEBT_ID = os.environ.get("FUZZ_DEBT_ID", "")
# The day of the seeded sale, so GET /stores/{store_id}/sales lists rows.
SALES_DAY = os.environ.get("FUZZ_SALES_DAY", "")
LOG = os.environ["FUZZ_LOG"]
# A share of valid cases keeps its generated ids: unknown stores and devices are worth a try too.
AIM = float(os.environ.get("FUZZ_AIM", "0.75"))
_rng = random.Random(int(os.environ.get("FUZZ_SEED", "0")))


def _aim() -> bool:
    return _rng.random() < AIM


def _point_event(event):
    if isinstance(event, dict):
        event["store_id"] = STORE_ID
        if DEVICE_ID:
            event["device_id"] = DEVICE_ID


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is not None and meta.generation.mode == GenerationMode.NEGATIVE:
        return case
    if not _aim():
        return case
    path = case.operation.path
    if isinstance(case.path_parameters, dict):
        if "store_id" in case.path_parameters:
            case.path_parameters["store_id"] = STORE_ID
        if "peer_id" in case.path_parameters and PEER_ID:
            case.path_parameters["peer_id"] = PEER_ID
        if path.startswith("/admin/dead-letters/") and DEAD_LETTER_ID:
            case.path_parameters["id"] = DEAD_LETTER_ID
        if "product_id" in case.path_parameters and PRODUCT_ID:
            case.path_parameters["product_id"] = PRODUCT_ID
        if "debt_id" in case.path_parameters and DEBT_ID:
            case.path_parameters["debt_id"] = DEBT_ID
    if isinstance(case.query, dict) and "store_id" in case.query:
        case.query["store_id"] = STORE_ID
    if isinstance(case.query, dict) and "day" in case.query and SALES_DAY:
        case.query["day"] = SALES_DAY
    body = case.body
    if isinstance(body, dict):
        if "store_id" in body and path != "/stores":
            body["store_id"] = STORE_ID
        if "peer_id" in body and PEER_ID:
            body["peer_id"] = PEER_ID
        if "vendorId" in body and VENDOR_ID:
            body["vendorId"] = VENDOR_ID
        if path == "/sync/push":
            if DEVICE_ID:
                body["device_id"] = DEVICE_ID
            if isinstance(body.get("events"), list):
                for event in body["events"]:
                    _point_event(event)
    return case


@schemathesis.hook
def after_call(context, case, response):
    with open(LOG, "a", encoding="utf-8") as out:
        out.write(
            json.dumps(
                {
                    "method": case.operation.method.upper(),
                    "path": case.operation.path,
                    "status": response.status_code,
                    "elapsed": round(response.elapsed, 4),
                    "at": round(time.time(), 3),
                }
            )
            + "\n"
        )
