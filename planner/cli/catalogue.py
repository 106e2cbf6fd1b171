"""Every ``pva`` command by name and help, and where its code lives: imported only when it runs.

``pva --help`` lists the catalogue without importing a command; ``pva verify``
imports the verifier's modules and nothing of the sidecar, its web stack or
its database. The sidecar adds its commands the same way, as ``Command``
values named by the ``pva.commands`` entry points (``sidecar.cli.catalogue``).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Command:
    """A command as ``pva --help`` lists it; ``module.register`` declares its arguments and runs it.

    ``help`` is the line the module's parser gives (a test holds the two
    equal). ``needs`` names the top-level modules it cannot run without (a
    plugin's extra): without one of them the command is listed, but not run.
    """

    name: str
    help: str
    module: str
    register: str = "register"
    needs: tuple[str, ...] = ()

    def available(self) -> bool:
        """Whether every module it needs is installed (found, not imported: only a dotted name's parents)."""
        try:
            return all(importlib.util.find_spec(name) is not None for name in self.needs)
        except ModuleNotFoundError:  # a dotted name's parent package is missing
            return False

    def declare(self, commands: Any) -> None:
        """Import the module and declare the command's parser (with every argument) in ``commands``."""
        module: ModuleType = importlib.import_module(self.module)
        getattr(module, self.register)(commands)


# The agent side's commands, in the order ``pva --help`` lists them.
BUILTIN = (
    Command(
        "verify", "check a plan against a folder or a manifest, and show its effect", "planner.cli.verify"
    ),
    Command("snapshot", "write a manifest (JSON lines) of a folder", "planner.cli.snapshot"),
    Command("schema", "print the plan JSON Schema (plan/v1)", "planner.cli.schema"),
    Command("digest", "print a plan's digest", "planner.cli.digest"),
    Command("submit", "submit a plan to the sidecar for approval (over HTTP)", "planner.cli.submit"),
    Command("plans", "list and show the sidecar's plans (over HTTP)", "planner.cli.plans"),
    Command("approve", "approve a plan on the sidecar (over HTTP); never your own", "planner.cli.decide"),
    Command("reject", "reject a plan on the sidecar (over HTTP), for good", "planner.cli.decide"),
    Command("hold", "place, release and list legal holds on the sidecar (over HTTP)", "planner.cli.holds"),
    Command(
        "tools",
        "print tool definitions for LLM function calling (generated from the plan schema)",
        "planner.cli.tools",
    ),
    Command("mcp", "run an MCP server with the agent tools (no approve tool)", "planner.cli.mcp"),
    Command(
        "runloop", "run an agent in a RunLoop devbox and submit the plan it writes", "planner.cli.runloop"
    ),
    Command("ls", "list a folder of the store, through the sidecar", "planner.cli.store"),
    Command("cat", "print a file of the store, through the sidecar", "planner.cli.store"),
    Command("manifest", "a manifest of a folder, through the sidecar", "planner.cli.store"),
)

# Without the sidecar's extra, its apply, revert and audit are still there, over HTTP.
FALLBACKS = {
    command.name: command
    for command in (
        Command(
            "apply",
            "apply an approved plan on the sidecar (over HTTP)",
            "planner.cli.remote",
            "register_apply",
        ),
        Command(
            "revert",
            "submit the plan that undoes an applied plan (over HTTP)",
            "planner.cli.remote",
            "register_revert",
        ),
        Command(
            "audit",
            "the sidecar's audit events and document histories (HTTP)",
            "planner.cli.remote",
            "register_audit",
        ),
    )
}

MISSING_HELP = "(needs the sidecar: pip install 'pva[sidecar]')"
