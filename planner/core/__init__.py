"""The pure core: plan models, paths, the tree, op semantics, the verifier, footprints, reports.

No I/O here (an import contract holds it): everything the agent, the client,
the commands and the sidecar know about plans is decided in these modules,
from values.
"""
