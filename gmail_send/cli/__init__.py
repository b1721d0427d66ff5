"""The `gmail-send` command: argument parsing and printing over the library's own functions."""

from ._main import main

__all__ = ["main"]
