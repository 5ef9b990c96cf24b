"""Shared pytest configuration.

Because ``tests/`` is a package (``tests/__init__.py``), pytest's default ``prepend`` import
mode puts the repository root on ``sys.path`` when it loads this file, which is what lets
test modules import shared suites such as ``tests.contract.event_store_contract``.
"""
