"""The sidecar's HTTP API from Python: ``PvaClient``, its answers and its errors.

``from planner.client import PvaClient`` is the public way in; the modules are
``http_client`` (the calls), ``models`` (what the sidecar answers) and
``errors`` (what can go wrong, each with the command's exit code).
"""

from planner.client.errors import ClientError, InvalidArgument, SidecarUnreachable, WaitTimeout
from planner.client.http_client import PvaClient, plan_of
from planner.client.models import PlanStatus, PlanSummary

__all__ = [
    "ClientError",
    "InvalidArgument",
    "PlanStatus",
    "PlanSummary",
    "PvaClient",
    "SidecarUnreachable",
    "WaitTimeout",
    "plan_of",
]
