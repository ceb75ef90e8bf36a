"""Executor backends: what actually changes the target (kubernetes, TKE Helm).

Each backend speaks :class:`tools.execution.Executor`; which one runs is chosen in
tools/catalog.py (``make_backend``), for ``alertpilot executor serve --backend`` and for an
agent configured to act in-process (``executor.backend``).
"""
