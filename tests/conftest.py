"""Shared pytest configuration.

Because ``tests/`` is a package (``tests/__init__.py``), pytest's default ``prepend`` import
mode puts the repository root on ``sys.path`` when it loads this file, which is what lets
test modules import shared suites such as ``tests.contract.event_store_contract``.
"""

import freezegun

# freeze_time walks every loaded module's attributes to patch datetime; Powertools' lazy
# module __getattr__ would import pydantic models *while* datetime is faked, fail, and leave
# the clock half-frozen for every later test. Its modules never need patching.
freezegun.configure(extend_ignore_list=["aws_lambda_powertools", "pydantic"])
