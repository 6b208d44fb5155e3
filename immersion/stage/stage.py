"""The stage: a scene pack's set, an avatar on a mark, a camera preset, rendered offscreen.

Engine handles are fields; :meth:`Stage.show` applies the newest pose and renders one frame.
The live room adds the per-frame work as a task; ``immersion render`` calls it in a loop.

Besides the avatar the actor drives, a stage holds named *extra* performers (a scene partner,
takes replayed side by side), each an avatar standing on a mark of the pack, posed per frame
through :meth:`Stage.show`.

:meth:`Stage.split` cuts the mirror picture into side-by-side strips seen from the one camera
preset; an extra placed with a ``column`` is seen in that strip only, and while split the main
avatar in strip 0 only: two takes played together on the same set and the same mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture.pose import Pose
from immersion.errors import RenderError
from immersion.scenes.manifest import CameraPreset, Mark, ScenePack
from immersion.stage import space
from immersion.stage.avatar_actor import AvatarActor
from immersion.stage.engine import Engine, engine
from immersion.stage.models import set_default_look
from immersion.stage.set_builder import (
    aim_backdrop,
    bind_variants,
    build_backdrop,
    build_set,
    lit_shader,
    shader,
    shadow_caster,
    shadow_light,
)
from immersion.stage.target import RenderTarget

SHADOW_STRENGTH = 0.45
SHADINGS = ("auto", "fast", "rich")
MAX_COLUMNS = 4  # strips of a split picture: side by side compares up to four takes

_SHADOW_LIFT = 0.004  # metres above the floor, against z-fighting


@dataclass(slots=True)
class Extra:
    """An extra performer: its avatar and the index of the pack's mark it stands on (kept by
    index, so a scene switch puts it on the new pack's mark of the same rank)."""

    actor: AvatarActor
    mark: int
    column: int | None = None  # the split picture's strip it is seen in; None: everywhere


@dataclass
class Stage:
    engine: Engine
    pack: ScenePack
    target: RenderTarget
    root: Any
    set_node: Any
    avatar: AvatarActor | None
    mark: Mark
    camera_preset: CameraPreset
    shading: str  # "fast": planar avatar shadow; "rich": shadow-mapped key light
    shadow_map: bool = False  # rich, and the pack has a light that casts shadows
    extras: dict[str, Extra] = field(default_factory=dict)  # by name
    columns: int = 1  # strips of the mirror picture (split)

    @classmethod
    def open(
        cls,
        pack: ScenePack,
        avatar: Path | AvatarActor | None,
        *,
        width: int = 1280,
        height: int = 720,
        mark: str | None = None,
        camera: str | None = None,
        target: RenderTarget | None = None,
        shading: str = "auto",
    ) -> Stage:
        """``shading`` "auto" picks "rich" on a GPU and "fast" on a software rasteriser."""
        from panda3d.core import Material, NodePath

        eng = engine()
        target = target or RenderTarget(eng, width, height)
        root = NodePath(f"stage-{pack.name}")
        target.camera.reparentTo(root)
        from immersion.headset.eyes import masks

        # The mirror sees what is for the mirror, headset or not (a set's eyes-only walls).
        target.camera.node().setCameraMask(masks()[0])
        target.split(())  # a reused target (a scene switch) starts whole; reopen splits it again
        # No strip of a split picture sees a node unless the mirror does or the node shows
        # the strip's bit: so what is hidden from the mirror stays hidden from every strip.
        root.hide(_column_bits())
        if shading not in SHADINGS:
            raise RenderError(f"shading must be one of {', '.join(SHADINGS)}, not {shading!r}")
        if shading == "auto":
            shading = "fast" if target.is_software() else "rich"
        default = Material("untextured-default")  # models without a material render white
        default.setBaseColor((1, 1, 1, 1))
        root.setMaterial(default)
        set_default_look(root)
        set_node = build_set(pack, root)
        caster = shadow_caster(pack.lights, set_node, root) if shading == "rich" else None
        root.setShader(lit_shader(pack.lights, caster is not None))  # the plain variant
        bind_variants(set_node, pack.lights, caster is not None)
        root.setShaderInput("u_cutaway", (0.0, 0.0, 0.0, 0.0))  # none; a headset eye sets one
        build_backdrop(pack, target)
        actor = AvatarActor.load(avatar) if isinstance(avatar, Path) else avatar
        stage = cls(
            eng,
            pack,
            target,
            root,
            set_node,
            actor,
            pack.mark(mark),
            pack.camera(camera),
            shading,
            caster is not None,
        )
        if actor is not None:
            stage.place_avatar(actor, stage.mark)
        stage.set_camera(stage.camera_preset)
        if caster is not None:
            target.render()  # Panda makes the shadow buffer on first use; have it before frame 1
        return stage

    def place_avatar(self, actor: AvatarActor, mark: Mark) -> None:
        """Stand ``actor`` on ``mark`` with its planar shadow; replaces any previous avatar.
        While split it is seen in strip 0 only."""
        if self.avatar is not None and self.avatar is not actor:
            self.avatar.node.removeNode()
        self.avatar, self.mark = actor, mark
        actor.node.reparentTo(self.root)
        actor.node.setPos(*space.point((mark.position[0], 0.0, mark.position[1])))
        actor.node.setH(mark.facing)
        bind_variants(actor.node, self.pack.lights, self.shadow_map)
        self._dress(actor, "avatar-shadow", 0 if self.columns > 1 else None, eyes=True)

    def place_extra(
        self, name: str, actor: AvatarActor, mark: int, column: int | None = None
    ) -> None:
        """Stand ``actor`` on the pack's mark number ``mark`` as the extra performer ``name``
        (replacing one of that name). With a ``column`` (0 .. MAX_COLUMNS - 1) it is seen only
        in that strip of a split picture (so not at all while the picture has fewer strips)
        and never by the headset's eyes. A mark the pack lacks is a :class:`RenderError`."""
        if not 0 <= mark < len(self.pack.marks):
            raise RenderError(
                f"scene pack {self.pack.name!r} has {len(self.pack.marks)} mark(s); "
                f"{name} needs mark {mark + 1}"
            )
        if column is not None and not 0 <= column < MAX_COLUMNS:
            raise RenderError(
                f"{name}: a split view's columns are 0 to {MAX_COLUMNS - 1}, not {column}"
            )
        old = self.extras.get(name)
        if old is not None and old.actor is not actor:
            old.actor.node.removeNode()
        self.extras[name] = Extra(actor, mark, column)
        spot = self.pack.marks[mark]
        actor.node.reparentTo(self.root)
        actor.node.setPos(*space.point((spot.position[0], 0.0, spot.position[1])))
        actor.node.setH(spot.facing)
        bind_variants(actor.node, self.pack.lights, self.shadow_map)
        self._dress(actor, f"extra-shadow-{name}", column, eyes=False)

    def split(self, columns: int) -> None:
        """Show the mirror picture as ``columns`` (1 to MAX_COLUMNS) equal strips side by
        side, each seen from the camera preset (its vertical field of view; the horizontal
        one as narrow as the strip), with its own backdrop. While split the main avatar is
        seen in strip 0 only (the headset's eyes still see it); ``split(1)``: today's view."""
        from immersion.headset.eyes import column_mask, masks

        whole = isinstance(columns, int) and not isinstance(columns, bool)
        if not whole or not 1 <= columns <= MAX_COLUMNS:
            raise RenderError(f"a split view has 1 to {MAX_COLUMNS} columns, not {columns!r}")
        mirror, _ = masks()
        self.target.split([mirror | column_mask(k) for k in range(columns)] if columns > 1 else [])
        self.columns = columns
        if self.avatar is not None:
            self._dress(self.avatar, "avatar-shadow", 0 if columns > 1 else None, eyes=True)
        aim_backdrop(self.target, self.root)

    def _dress(self, actor: AvatarActor, shadow: str, column: int | None, *, eyes: bool) -> None:
        """``actor``'s camera masks and planar shadow: seen as the set is (``column`` None),
        or only in strip ``column`` (and by the eyes if ``eyes``). The shadow map's camera is
        the mirror's mask, so it does not see a performer kept to a strip: such a one casts
        the planar shadow, kept to its strip, in the "rich" shading too (one shadow map
        serves every strip; the other strips' performers must not darken this one's floor)."""
        from immersion.headset.eyes import column_mask, masks

        mirror, eye = masks()
        self._remove_shadow(shadow)
        nodes = [actor.node]
        if self.shading != "rich" or column is not None:
            nodes.append(self._planar_shadow(actor, shadow))
        for node in nodes:
            node.show(mirror | eye | _column_bits())  # inherit again, as the set does
            if column is not None:
                node.hide(mirror if eyes else mirror | eye)
                node.showThrough(column_mask(column))

    def remove_extra(self, name: str) -> None:
        extra = self.extras.pop(name, None)
        if extra is not None:
            extra.actor.node.removeNode()
        self._remove_shadow(f"extra-shadow-{name}")

    def _remove_shadow(self, node_name: str) -> None:
        for old in self.root.findAllMatches(node_name):
            old.removeNode()

    def _planar_shadow(self, actor: AvatarActor, node_name: str) -> Any:
        """``actor``'s shadow flattened onto the floor (the "fast" shading's)."""
        from panda3d.core import StencilAttrib, TransparencyAttrib

        shadow = self.root.attachNewNode(node_name)
        actor.actor.instanceTo(shadow)
        shadow.setShader(shader("shadow"), 10)
        shadow.setShaderInput("u_shadow_light", shadow_light(self.pack.lights))
        shadow.setShaderInput("u_floor", _SHADOW_LIFT)
        shadow.setShaderInput("u_shadow_strength", SHADOW_STRENGTH)
        shadow.setTransparency(TransparencyAttrib.MAlpha, 10)
        shadow.setDepthWrite(False, 10)
        shadow.setTwoSided(True, 10)
        # Each floor pixel is darkened once, however many body parts overlap there.
        shadow.setAttrib(
            StencilAttrib.make(
                True,
                StencilAttrib.SCF_not_equal,
                StencilAttrib.SO_keep,
                StencilAttrib.SO_keep,
                StencilAttrib.SO_replace,
                1,
                0xFF,
                0xFF,
            ),
            10,
        )
        shadow.setBin("transparent", 0)
        return shadow

    def set_camera(self, preset: CameraPreset) -> None:
        cam = self.target.camera
        cam.setPos(*space.point(preset.position))
        cam.lookAt(*space.point(preset.look_at))
        self.target.set_fov(preset.fov)
        aim_backdrop(self.target, self.root)
        self.camera_preset = preset

    def show(
        self,
        pose: Pose | None,
        *,
        mirror: bool = True,
        extras: Mapping[str, Pose | None] | None = None,
    ) -> None:
        """Pose the avatar (None: hold the last pose) and the named extras, and render one
        frame. ``mirror`` False leaves the stage's own camera out of it (a headset frame the
        viewers do not get): the buffers it hosts, the eyes, still render."""
        if pose is not None and self.avatar is not None:
            self.avatar.apply(pose)
        for name, extra_pose in (extras or {}).items():
            extra = self.extras.get(name)
            if extra is not None and extra_pose is not None:
                extra.actor.apply(extra_pose)
        if mirror:
            self.target.render()
            return
        self.target.buffer.setActive(False)
        try:
            self.target.render()
        finally:
            self.target.buffer.setActive(True)

    def reopen(self, pack: ScenePack) -> Stage:
        """The same target, avatar, extras and shading on another set (this one is freed
        first). An extra whose mark the new pack lacks is left off (the caller sees it gone)."""
        if self.avatar is not None:
            self.avatar.node.detachNode()
        for extra in self.extras.values():
            extra.actor.node.detachNode()
        self.close(keep_target=True)
        stage = Stage.open(pack, self.avatar, target=self.target, shading=self.shading)
        for name, extra in self.extras.items():
            if extra.mark < len(pack.marks):
                stage.place_extra(name, extra.actor, extra.mark, extra.column)
        stage.split(self.columns)
        return stage

    def close(self, keep_target: bool = False) -> None:
        """Free the set; ``keep_target`` leaves the buffer for the next pack (a scene switch)."""
        self.root.clearLight()
        self.root.removeNode()
        if not keep_target:
            self.target.close()


def _column_bits() -> Any:
    """Every strip's bit (:func:`immersion.headset.eyes.column_mask`)."""
    from panda3d.core import BitMask32

    from immersion.headset.eyes import column_mask

    bits = BitMask32()
    for k in range(MAX_COLUMNS):
        bits |= column_mask(k)
    return bits
