"""A rigged avatar in Panda3D, driven each frame by a capture :class:`~capture.pose.Pose`.

The file is checked (:mod:`immersion.gltf_guard`), its humanoid map and licence read
(:mod:`immersion.avatars.vrm`), then loaded with panda3d-gltf as an ``Actor`` whose humanoid
joints are taken under control. Rest frames are read back from the engine, so whatever axis
convention the loader applied is accounted for; :class:`~immersion.avatars.rig.Rig` does the
maths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from capture.pose import Pose
from capture.skeleton import Bone
from immersion.avatars.rig import Rig
from immersion.avatars.vrm import AvatarSpec, check_use, inspect_avatar
from immersion.errors import AvatarError
from immersion.stage import space
from immersion.stage.models import load_gltf

# VRM 0.x avatars face -Z: normalized space is turned half round about Y to meet them.
_HALF_TURN_Y = np.diag([-1.0, 1.0, -1.0])


@dataclass
class AvatarActor:
    """``node`` is placed on a mark; the actor inside it faces +Z of the pack."""

    path: Path
    spec: AvatarSpec
    node: Any
    actor: Any
    rig: Rig
    controls: list[Any] = field(default_factory=list)
    # (n, 3) each controlled joint's rest translation in its parent's frame; only the hips move.
    rest_translation: np.ndarray[Any, np.dtype[np.float64]] = field(
        default_factory=lambda: np.zeros((0, 3))
    )

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        use: str = "corporation",
        licensed: bool = False,
        bone_map: dict[str, str] | None = None,
    ) -> AvatarActor:
        from direct.actor.Actor import Actor
        from panda3d.core import NodePath

        doc, spec = inspect_avatar(path, bone_map)
        check_use(spec.licence, use, licensed, path.name)
        actor = Actor(load_gltf(doc))
        node = NodePath(f"avatar-{path.stem}")
        actor.reparentTo(node)
        basis = space.TO_PANDA @ (_HALF_TURN_Y if spec.faces_minus_z else np.eye(3))
        if spec.faces_minus_z:
            actor.setH(180)

        bones = tuple(b for b in Bone if b in spec.bones)
        rest_local = []
        for b in bones:
            found = actor.getJoints(jointName=spec.bones[b])
            if not found:  # inspect_avatar should have refused this file; never a traceback
                raise AvatarError(
                    f"{path.name}: the loader built no joint {spec.bones[b]!r} ({b.vrm_name})"
                )
            rest_local.append(space.from_panda_matrix(found[0].getDefaultValue()))
        rest_global, rest_pos = [], []
        actor.getPartBundle("modelRoot").forceUpdate()
        for b in bones:
            exposed = actor.exposeJoint(None, "modelRoot", spec.bones[b])
            r, t = space.from_panda_matrix(exposed.getMat(actor))
            rest_global.append(_orthonormal(r))
            rest_pos.append(t)
            exposed.removeNode()
        controls = [actor.controlJoint(None, "modelRoot", spec.bones[b]) for b in bones]
        g = np.array(rest_global)
        local_r = np.array([_orthonormal(r) for r, _ in rest_local])
        parent_frame = g @ local_r.transpose(0, 2, 1)
        translations = np.array([t for _, t in rest_local])
        rig = Rig(
            bones, g, parent_frame, np.array(rest_pos), basis,
            translations[bones.index(Bone.HIPS)], name=path.name,
        )  # fmt: skip
        return cls(path, spec, node, actor, rig, controls, translations)

    def apply(self, pose: Pose) -> None:
        """Set every humanoid joint from ``pose`` (the engine skins at the next render)."""
        from panda3d.core import LMatrix4f

        local, hips_t = self.rig.solve(pose)
        translations = self.rest_translation.copy()
        translations[self.rig.bones.index(Bone.HIPS)] = hips_t
        for ctrl, r, t in zip(self.controls, local, translations, strict=True):
            ctrl.setMat(LMatrix4f(*space.panda_matrix(r, t)))

    def joint_positions(self) -> dict[Bone, np.ndarray[Any, np.dtype[np.float64]]]:
        """World positions (pack space: Y up) of the humanoid joints, read from the engine."""
        from panda3d.core import NodePath

        self.actor.getPartBundle("modelRoot").forceUpdate()
        out = {}
        render = self.node.getTop()
        for b in self.rig.bones:
            exposed: NodePath = self.actor.exposeJoint(None, "modelRoot", self.spec.bones[b])
            p = exposed.getPos(render)
            out[b] = space.TO_PANDA.T @ np.array([p[0], p[1], p[2]])
            exposed.removeNode()
        return out


def _orthonormal(m: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The rotation nearest ``m`` (drops any joint scale)."""
    u, _, vt = np.linalg.svd(m)
    out: np.ndarray[Any, np.dtype[np.float64]] = u @ vt
    return out
