"""The OpenAPI document: FastAPI's, plus the plan schema (plan/v1) and the comment body as components.

Routes that read their body through a dependency (strict JSON, limits) name
its schema by reference; this puts those schemas in ``components``, with
the plan schema's ``$defs`` moved there and its references rewritten.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from planner.core.schema import plan_json_schema
from sidecar.api.webhooks import WebhookIn
from sidecar.edge.params import ApprovalRequest, ChangesRequest, Comment, HoldRelease, HoldRequest

API_VERSION = "1.0.0"


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        cached: dict[str, Any] = app.openapi_schema
        return cached
    document: dict[str, Any] = get_openapi(
        title="pva sidecar", version=API_VERSION, description=app.description, routes=app.routes
    )
    # The report's inverse plan names the plan schema by its file name: point it at the component.
    document = json.loads(
        json.dumps(document).replace('"plan.v1.schema.json"', '"#/components/schemas/Plan"')
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    plan = json.loads(json.dumps(plan_json_schema()).replace('"#/$defs/', '"#/components/schemas/'))
    components.update(plan.pop("$defs", {}))
    plan.pop("$schema", None)
    plan.pop("$id", None)
    components["Plan"] = plan
    components["Comment"] = Comment.model_json_schema()
    components["ApprovalRequest"] = ApprovalRequest.model_json_schema()
    components["ChangesRequest"] = ChangesRequest.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components.update(
        ChangesRequest.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs")
    )
    components["WebhookIn"] = WebhookIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components["HoldRequest"] = HoldRequest.model_json_schema()
    components["HoldRelease"] = HoldRelease.model_json_schema()
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    document["security"] = [{"bearer": []}]
    # /healthz answers without a token (liveness probes send none): the document must say so.
    document["paths"]["/healthz"]["get"]["security"] = []
    app.openapi_schema = document
    return document
