"""The audit database: append-only, hash-chained records of every plan and apply."""
