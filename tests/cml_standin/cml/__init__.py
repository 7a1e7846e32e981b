"""STAND-IN for CML's ``cml`` package, which exists only inside CML and cannot be installed here.

Only the tests put this on ``PYTHONPATH``; it holds `workers_v1`, played with real local processes.
"""
