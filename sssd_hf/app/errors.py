"""Errors of the generation app and the helper that keeps echoed input short."""

from __future__ import annotations

from typing import Any

#: Longest piece of a visitor's input repeated in an error message (characters).
MAX_ECHO_CHARS = 60


class RequestError(ValueError):
    """A visitor's input cannot be used; the message says why, in one line, for the page."""


class ModelUnavailable(RuntimeError):
    """No model could be loaded; the message says why and how to provide one."""


def shorten(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (``'...'`` plus the original length when cut).

    Used for every piece of input an error message repeats, so a 200,000-character label is
    answered with a short message, not echoed back."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:max(limit - 3, 1)]}... ({len(text)} characters)"
