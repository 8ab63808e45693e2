"""Textual messages the app posts to itself."""

from __future__ import annotations

from batchtop.core.models import Event
from textual.message import Message


class ServiceEvent(Message):
    """A core service event, carried onto the UI loop (`post_message` is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
