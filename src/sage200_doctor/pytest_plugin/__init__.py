"""The pytest adapter: presents the engine's result as ordered test items; never decides."""
