"""What the test suites share, one module per kind of helper.

- ``apps``: a migrated SQLite database, the app over a test's settings, a TestClient as an httpx client.
- ``clocks``: a clock that ticks a fixed step per reading, and one that stands still.
- ``files``: a store folder written from ``{path: content}``, and its state read back from disk.
- ``plans``: a plan/v1 document from its ops, and its ``Plan``.
- ``scenes``: ``CrashRun``, one copy of a crash scene applied by a child process that is killed.
- ``tokens``: principals to act as, and secrets issued to named people.

Fixtures pytest must discover stay in the suites' ``conftest.py`` files; their
bodies call these helpers.
"""
