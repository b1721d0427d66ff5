"""JSON from outside (files, variables, server replies), parsed so that only ValueError escapes.

`json.loads` raises `RecursionError` for deeply nested input (`"[" * 100000`); a token file, an
environment variable or a server's challenge must never fail that way.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_json"]


def parse_json(data: str | bytes) -> Any:
    """`json.loads(data)`; malformed, non-UTF-8 or too deeply nested input is a ValueError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
