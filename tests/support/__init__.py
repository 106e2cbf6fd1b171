"""What the test suites share, one module per kind of helper.

- ``apps``: a sidecar for a test (settings, a migrated SQLite database, the app) and its
  TestClient as an httpx client.
"""
