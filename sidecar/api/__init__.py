"""The sidecar's HTTP API (FastAPI): thin routes over ``sidecar.service``; ``create_app`` wires it."""
