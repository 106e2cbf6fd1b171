"""``/docs``: the API's interactive description (Swagger UI), served whole by the sidecar itself.

Its script and styles are the Swagger UI 5 files the ``fastapi-offline``
package ships (Swagger UI 4 cannot read OpenAPI 3.1), not a CDN's: the page
works offline, loads nothing from elsewhere onto the approvers' origin, and
runs under the approval page's Content-Security-Policy (no inline script:
the start-up script is a file of its own), framing refused.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, Response

from sidecar.web.render import secure

router = APIRouter(include_in_schema=False)
ASSETS = Path(fastapi_offline.__file__).parent / "static"
SERVED = {  # what /docs/assets/ serves of the package's files, and nothing else
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
START = "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true});\n"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pva sidecar API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/start.js"></script>
</body>
</html>
"""


@router.get("/docs")
def docs_page() -> Response:
    return secure(HTMLResponse(PAGE))


@router.get("/docs/assets/start.js")
def docs_start() -> Response:
    return secure(Response(START, media_type="text/javascript"))


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> Response:
    if name not in SERVED:
        return secure(Response("not found", status_code=404, media_type="text/plain"))
    response = FileResponse(ASSETS / name, media_type=SERVED[name])
    response.headers["Cache-Control"] = "no-cache"
    return secure(response)
