"""The base of every settings model: a key the model does not know is an error, not a silent no-op.

A typo such as ``llm.timeout: 2`` for ``llm.timeout_s`` would otherwise be accepted and
ignored (the run then waits without bound); refusing it names the key (exit 2).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A configuration section: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
