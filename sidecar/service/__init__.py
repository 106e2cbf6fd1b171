"""The service layer: the workflow's use cases over the store, the engine and the databases."""
