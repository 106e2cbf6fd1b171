"""Tests of the local backend: confinement, races and faults."""
