"""The agent's side: what runs in (or drives) the sandbox.

``snapshot`` scans the read-only copy into a tree, ``tools`` gives a model
pva's five tools (function calling), ``mcp_server`` serves them over MCP and
``runloop`` runs an agent in a RunLoop devbox and submits its plan. Only
``mcp_server`` and ``runloop`` need the ``agent`` extra; ``pva mcp`` and ``pva
runloop`` import them only when they run, so a sandbox with just the planner
installed still has every other command.
"""
