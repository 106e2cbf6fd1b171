"""The apply engine: compile changes to primitive steps, journal them, run them, recover."""
