"""The custodian example: a rule-based agent, sample data, and a demo against a running sidecar."""
