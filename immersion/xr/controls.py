"""The actor's controllers: two buttons ("ready", "again"), the thumbstick that scrolls the
teleprompter, and where each hand is.

OpenXR input goes through actions: we name what we want ("ready"), suggest a button for it on
each controller we know, and the runtime maps whatever is in the actor's hands. A press is
reported once, on the frame it goes down. A thumbstick pushed down or up is a "scroll-down"
(on to later lines) or "scroll-up" press, repeated while it is held (:class:`StickRepeat`);
the simple controller has no stick. Without controllers, nothing is pressed and no hand is
located; the room needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HANDS = ("left", "right")
BUTTONS = ("ready", "again")
SCROLLS = ("scroll-up", "scroll-down")  # presses a thumbstick makes
SCROLL_AT = 0.6  # a stick pushed past this scrolls a line...
RELEASE_AT = 0.3  # ...and, let back within this, is ready for the next push
SCROLL_REPEAT_S = 0.4  # held: another line this often

# interaction profile -> action -> component path under /user/hand/<side>/, per side
SUGGESTED: dict[str, dict[str, dict[str, str]]] = {
    "/interaction_profiles/khr/simple_controller": {
        "ready": {"left": "input/select/click", "right": "input/select/click"},
        "again": {"left": "input/menu/click", "right": "input/menu/click"},
        "hand": {"left": "input/grip/pose", "right": "input/grip/pose"},
    },
    "/interaction_profiles/valve/index_controller": {
        "ready": {"left": "input/a/click", "right": "input/a/click"},
        "again": {"left": "input/b/click", "right": "input/b/click"},
        "scroll": {"left": "input/thumbstick/y", "right": "input/thumbstick/y"},
        "hand": {"left": "input/grip/pose", "right": "input/grip/pose"},
    },
    "/interaction_profiles/oculus/touch_controller": {
        "ready": {"left": "input/x/click", "right": "input/a/click"},
        "again": {"left": "input/y/click", "right": "input/b/click"},
        "scroll": {"left": "input/thumbstick/y", "right": "input/thumbstick/y"},
        "hand": {"left": "input/grip/pose", "right": "input/grip/pose"},
    },
}


@dataclass(frozen=True, slots=True)
class Press:
    """A button that went down this frame, or a thumbstick's scroll: ``button`` in
    :data:`BUTTONS` or :data:`SCROLLS`, ``hand`` in :data:`HANDS`."""

    button: str
    hand: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where something is in the reference space: orientation (x, y, z, w), position (m)."""

    orientation: tuple[float, float, float, float]
    position: tuple[float, float, float]


class StickRepeat:
    """One hand's thumbstick (its y, up positive) as scroll presses: one when pushed past
    :data:`SCROLL_AT`, another every ``repeat_s`` while held, none in between; the stick
    must come back within :data:`RELEASE_AT` before the same push counts afresh."""

    __slots__ = ("_held", "_next", "repeat_s")

    def __init__(self, repeat_s: float = SCROLL_REPEAT_S) -> None:
        self.repeat_s = repeat_s
        self._held = ""  # the scroll the stick is held at, "" when at rest
        self._next = 0.0

    def step(self, y: float, now: float) -> str | None:
        """The scroll for the stick at ``y`` at time ``now`` (seconds), if one is due."""
        if abs(y) < RELEASE_AT:
            self._held = ""
            return None
        if abs(y) < SCROLL_AT:
            return None  # between: neither a new push nor a release
        scroll = "scroll-up" if y > 0 else "scroll-down"
        if scroll != self._held:
            self._held, self._next = scroll, now + self.repeat_s
            return scroll
        if now >= self._next:
            # On time: the next repeat_s on. After a stall (a scene loading on the render
            # thread): repeat_s from now, not at once again.
            late = now >= self._next + self.repeat_s
            self._next = (now if late else self._next) + self.repeat_s
            return scroll
        return None


class Controls:
    """The action set; created with the instance, attached to the session, synced per frame."""

    def __init__(self, instance: Any) -> None:
        import xr

        self._instance = instance
        self._set = xr.create_action_set(
            instance,
            xr.ActionSetCreateInfo(
                action_set_name="audition", localized_action_set_name="Audition", priority=0
            ),
        )
        self._hands = [xr.string_to_path(instance, f"/user/hand/{side}") for side in HANDS]
        self._actions: dict[str, Any] = {}
        for name, kind in (*((b, xr.ActionType.BOOLEAN_INPUT) for b in BUTTONS),
                           ("scroll", xr.ActionType.FLOAT_INPUT),
                           ("hand", xr.ActionType.POSE_INPUT)):  # fmt: skip
            self._actions[name] = xr.create_action(
                self._set,
                xr.ActionCreateInfo(
                    action_name=name,
                    action_type=kind,
                    subaction_paths=self._hands,
                    localized_action_name=name.title(),
                ),
            )
        for profile, bindings in SUGGESTED.items():
            suggested = [
                xr.ActionSuggestedBinding(
                    self._actions[action], xr.string_to_path(instance, f"/user/hand/{side}/{path}")
                )
                for action, sides in bindings.items()
                for side, path in sides.items()
            ]
            xr.suggest_interaction_profile_bindings(
                instance,
                xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(instance, profile),
                    suggested_bindings=suggested,
                ),
            )
        self._spaces: list[Any] = []
        self._sticks = [StickRepeat() for _ in HANDS]

    def attach(self, session: Any) -> None:
        import xr

        xr.attach_session_action_sets(
            session, xr.SessionActionSetsAttachInfo(action_sets=[self._set])
        )
        self._spaces = [
            xr.create_action_space(
                session, xr.ActionSpaceCreateInfo(action=self._actions["hand"], subaction_path=hand)
            )
            for hand in self._hands
        ]

    def sync(
        self, session: Any, space: Any, time: int
    ) -> tuple[tuple[Press, ...], dict[str, Placement]]:
        """This frame's presses and the located hands (only those the runtime tracks)."""
        import xr

        xr.sync_actions(
            session, xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(self._set, 0)])
        )
        presses = []
        for button in BUTTONS:
            for side, hand in zip(HANDS, self._hands, strict=True):
                state = xr.get_action_state_boolean(
                    session, xr.ActionStateGetInfo(self._actions[button], hand)
                )
                if state.is_active and state.changed_since_last_sync and state.current_state:
                    presses.append(Press(button, side))
        for side, hand, stick in zip(HANDS, self._hands, self._sticks, strict=True):
            value = xr.get_action_state_float(
                session, xr.ActionStateGetInfo(self._actions["scroll"], hand)
            )
            scroll = stick.step(value.current_state if value.is_active else 0.0, time / 1e9)
            if scroll is not None:
                presses.append(Press(scroll, side))
        hands = {}
        need = (
            xr.SpaceLocationFlags.POSITION_VALID_BIT | xr.SpaceLocationFlags.ORIENTATION_VALID_BIT
        )
        for side, hand_space in zip(HANDS, self._spaces, strict=True):
            found = xr.locate_space(hand_space, space, time)
            if (found.location_flags & need) == need:
                o, p = found.pose.orientation, found.pose.position
                hands[side] = Placement((o.x, o.y, o.z, o.w), (p.x, p.y, p.z))
        return tuple(presses), hands

    def close(self) -> None:
        import xr

        for space in self._spaces:
            xr.destroy_space(space)
        self._spaces = []
        xr.destroy_action_set(self._set)  # its actions go with it
