"""The agent side's heavier parts: the MCP server and the RunLoop runner (the ``agent`` extra).

Nothing here is imported by ``planner`` itself; ``pva mcp`` and ``pva
runloop`` import these modules only when they run, so a sandbox with just the
planner installed still has every other command.
"""
