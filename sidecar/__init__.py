"""pva's privileged side: the apply engine, backends, audit database and HTTP service.

Empty until the apply-engine issue; the agent-side ``planner`` package must
never import it.
"""
