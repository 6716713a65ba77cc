"""Root conftest: kept thin on purpose.

The sage200-doctor plugin is loaded through its pytest11 entry point; it must never be added
here as well (that would register it twice).
"""
