"""The OpenXR session lifecycle as a pure state machine: runtime states in, our next step out.

OpenXR tells an application where its session stands (``XrEventDataSessionStateChanged``) and
expects a fixed answer to some states: begin the session on READY, end it on STOPPING, and let
go of it on EXITING or LOSS_PENDING. Rendering never looks at states; it asks whether to run the
frame loop (:attr:`Lifecycle.running`) and whether to draw (:attr:`Lifecycle.visible`). Kept
free of pyopenxr so the rules are tested without a runtime.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class State(enum.IntEnum):
    """``XrSessionState``, same numbers."""

    UNKNOWN = 0
    IDLE = 1
    READY = 2
    SYNCHRONIZED = 3
    VISIBLE = 4
    FOCUSED = 5
    STOPPING = 6
    LOSS_PENDING = 7
    EXITING = 8


class Step(enum.Enum):
    """What the session layer must do after a state change."""

    NONE = "none"
    BEGIN = "begin"  # xrBeginSession
    END = "end"  # xrEndSession
    LEAVE = "leave"  # destroy the session (and the instance); the headset is gone or done


@dataclass(slots=True)
class Lifecycle:
    """Where the session stands, fed every state the runtime reports, in order."""

    state: State = State.UNKNOWN
    running: bool = False  # between xrBeginSession and xrEndSession: frames must be submitted
    ended: bool = False  # EXITING or LOSS_PENDING seen: no more frames, ever
    reached: set[State] = field(default_factory=set)  # every state seen, for tests and status

    def on_state(self, new: State | int) -> Step:
        new = State(new)
        self.state = new
        self.reached.add(new)
        if new is State.READY and not self.running:
            self.running = True
            return Step.BEGIN
        if new is State.STOPPING and self.running:
            self.running = False
            return Step.END
        if new in (State.EXITING, State.LOSS_PENDING):
            self.ended = True
            self.running = False  # a lost session is destroyed, not ended (the spec's advice)
            return Step.LEAVE
        return Step.NONE

    @property
    def visible(self) -> bool:
        """Whether frames are shown: render them; otherwise submit empty frames."""
        return self.running and self.state in (State.VISIBLE, State.FOCUSED)

    @property
    def focused(self) -> bool:
        """Whether the headset's input is ours."""
        return self.running and self.state is State.FOCUSED
