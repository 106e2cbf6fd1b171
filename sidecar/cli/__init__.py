"""The sidecar's ``pva`` commands (apply, revert, recover, audit, db), added as plugins."""
