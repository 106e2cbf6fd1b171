"""The GCS backend: the backend protocol on a Cloud Storage bucket (see docs/gcs.md)."""
