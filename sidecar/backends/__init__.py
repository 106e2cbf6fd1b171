"""Stores the apply engine can change: the protocol and its implementations."""
