"""The sidecar's JSON API: thin FastAPI routes over ``sidecar.service``; ``sidecar.app`` mounts it."""
