"""The diagnostic engine: checks declared in a registry, run in order with gating, one result.

It does not import pytest: the command line and the pytest plugin both present its result.
"""
