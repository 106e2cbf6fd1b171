"""The ``pva`` command line: one thin module per command, dispatched by ``main``."""
