"""pva's privileged side: it applies approved plans to the store, crash-safely, and audits every change.

The apply engine and its backends, the audit database, the workflow and the
policy, the service layer, the HTTP API and the approval page, and their
commands; docs/architecture.md draws its layers (an import-linter contract
holds them). The agent-side ``planner`` package never imports it.
"""
