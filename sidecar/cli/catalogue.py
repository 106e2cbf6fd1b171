"""The sidecar's ``pva`` commands by name and help, for the ``pva.commands`` entry points.

Light on purpose: ``pva --help`` imports this module, never the commands
themselves (they load the database, the web stack and the stores).
"""

from __future__ import annotations

from planner.cli.catalogue import Command

# Without these the sidecar's commands are listed, not run (the sidecar extra installs them).
NEEDS = ("sqlalchemy", "alembic", "fastapi", "pydantic_settings", "uvicorn", "procrastinate")

APPLY = Command(
    "apply", "apply a plan to the store (all or nothing, audited)", "sidecar.cli.apply", needs=NEEDS
)
REVERT = Command(
    "revert",
    "show (and with --apply, apply) the plan that undoes an applied plan",
    "sidecar.cli.revert",
    needs=NEEDS,
)
RECOVER = Command(
    "recover", "finish or undo applies that a crash interrupted", "sidecar.cli.recover", needs=NEEDS
)
AUDIT = Command("audit", "query and verify the audit database", "sidecar.cli.audit", needs=NEEDS)
DB = Command("db", "manage the audit database", "sidecar.cli.db", needs=NEEDS)
TOKEN = Command("token", "create, list and revoke API tokens", "sidecar.cli.token", needs=NEEDS)
SERVE = Command("serve", "run the sidecar's HTTP API", "sidecar.cli.serve", needs=NEEDS)
WORKER = Command("worker", "run queued applies (jobs mode, PostgreSQL)", "sidecar.cli.worker", needs=NEEDS)
CUSTODY = Command("custody", "signed custody reports", "sidecar.cli.custody", needs=NEEDS)
WATCH = Command("watch", "record changes made to the store outside pva", "sidecar.cli.watch", needs=NEEDS)
WEBHOOK = Command(
    "webhook", "add, list and remove webhooks; see their deliveries", "sidecar.cli.webhook", needs=NEEDS
)
