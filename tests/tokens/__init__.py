"""Tokens: the store, the principal and the pva token command."""
