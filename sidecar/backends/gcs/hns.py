"""Folder renames on a bucket with hierarchical namespace: one ``rename_folder`` call, atomic on the server.

google-cloud-storage-control's ``StorageControlClient.rename_folder`` is a
long-running operation; this waits for it. Used only when the bucket reports
``hierarchicalNamespace.enabled``; flat buckets move folders object by object
(``mover.py``). Exercised only against a real HNS bucket (the test servers
here speak no gRPC), by the real-bucket job.
"""

from __future__ import annotations

import uuid
from typing import Any

from sidecar.backends.gcs.errors import translated


class FolderRenamer:
    """Renames folders of one HNS bucket through the storage control API."""

    def __init__(self, bucket: str, *, timeout: float = 600.0) -> None:
        self.bucket = bucket
        self.timeout = timeout
        self._client: Any = None

    def rename(self, src: str, dst: str) -> None:
        """Rename the folder ``src`` (``a/b/``) to ``dst``; the destination must not exist."""
        from google.cloud import storage_control_v2  # noqa: PLC0415  # loaded only for HNS buckets

        with translated(src):
            if self._client is None:
                self._client = storage_control_v2.StorageControlClient()
            request = storage_control_v2.RenameFolderRequest(
                name=f"projects/_/buckets/{self.bucket}/folders/{src}",
                destination_folder_id=dst,
                request_id=str(uuid.uuid4()),  # makes a retried request idempotent on the server
            )
            self._client.rename_folder(request=request).result(timeout=self.timeout)
