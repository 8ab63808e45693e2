"""Textual messages shared by the app and its screens."""

from __future__ import annotations

from batchtop.core.models import Event
from textual.message import Message


class ServiceEvent(Message, bubble=False):
    """A core service event on the UI loop: the one way service events reach the TUI.

    The app is the service's only subscriber (`post_message` is thread-safe); it hands each
    event to every screen of its stack, and a screen that cares defines `on_service_event`.
    It does not bubble: a screen that ignores it must not send it back up to the app.
    """

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
