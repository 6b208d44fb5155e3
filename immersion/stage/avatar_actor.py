"""A rigged avatar in Panda3D, driven each frame by a capture :class:`~capture.pose.Pose`.

The file is checked (:mod:`immersion.gltf_guard`), its humanoid map and licence read
(:mod:`immersion.avatars.vrm`), then loaded with panda3d-gltf as an ``Actor`` whose humanoid
joints are taken under control. Rest frames are read back from the engine, so whatever axis
convention the loader applied is accounted for; :class:`~immersion.avatars.rig.Rig` does the
maths. Finger bones are humanoid bones like any other.

The face (:attr:`Pose.face`) moves morph targets through
:class:`~immersion.avatars.expressions.FaceDriver`: panda3d-gltf makes one ``CharacterSlider``
per target (group ``morph/mesh<N>``); each driven slider is put under the control of a node
whose X is the weight, and only sliders whose weight changed are touched (Panda3D morphs on
the CPU, and an unchanged weight costs nothing). Gaze turns the leftEye/rightEye joints (a
``bone`` lookAt) or sets look* expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from capture.face import Face
from capture.pose import Pose
from capture.rotations import quat_to_matrix
from capture.skeleton import Bone
from immersion.avatars.expressions import FaceDriver, eye_nodes, read_expressions
from immersion.avatars.rig import Rig, Stride
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
    face: FaceDriver | None = None
    # One control node per face.targets entry (None: the loader made no slider for it).
    sliders: list[Any] = field(default_factory=list)
    weights: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.zeros(0))
    # leftEye, rightEye: (control node, parent frame, rest global, rest translation).
    eyes: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)
    # Scales the pose's root motion to this avatar's legs (None: made on the first pose).
    stride: Stride | None = None

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
        out = cls(path, spec, node, actor, rig, controls, translations)
        out._load_face(doc.json)
        return out

    def _load_face(self, doc: dict[str, Any]) -> None:
        """The face driver, a control node per driven slider, and the eye joints."""
        from panda3d.core import ModelNode, NodePath

        name = self.path.name
        model = read_expressions(doc, name)
        eyes = eye_nodes(doc, name)
        bundle = self.actor.getPartBundle("modelRoot")
        if eyes is not None and not all(bundle.findChild(e) for e in eyes):
            eyes = None
        self.face = FaceDriver(model, eyes is not None)
        groups = _morph_groups(self.actor)
        for mesh, index in self.face.targets:
            group = groups.get(mesh)
            slider = group.findChild(model.loader_names[mesh][index]) if group else None
            if slider is None:
                self.sliders.append(None)
                continue
            control = NodePath(ModelNode(f"morph-{mesh}-{index}"))
            control.setX(slider.getDefaultValue())
            slider.applyControl(control.node())
            self.sliders.append(control)
        self.weights = np.full(len(self.sliders), np.nan)  # every slider set on the first face
        if eyes is None or self.face.eye_mode != "bone":
            return
        bundle.forceUpdate()
        for joint_name in eyes:
            joint = self.actor.getJoints(jointName=joint_name)[0]
            r_local, t_local = space.from_panda_matrix(joint.getDefaultValue())
            exposed = self.actor.exposeJoint(None, "modelRoot", joint_name)
            rest_global = _orthonormal(space.from_panda_matrix(exposed.getMat(self.actor))[0])
            exposed.removeNode()
            parent_frame = rest_global @ _orthonormal(r_local).T
            control = self.actor.controlJoint(None, "modelRoot", joint_name)
            self.eyes.append((control, parent_frame, rest_global, t_local))

    def apply(self, pose: Pose) -> None:
        """Set every humanoid joint from ``pose`` (the engine skins at the next render)."""
        from panda3d.core import LMatrix4f

        if self.stride is None:
            self.stride = Stride(self.rig.legs)
        local, hips_t = self.rig.solve(pose, self.stride(pose))
        translations = self.rest_translation.copy()
        translations[self.rig.bones.index(Bone.HIPS)] = hips_t
        for ctrl, r, t in zip(self.controls, local, translations, strict=True):
            ctrl.setMat(LMatrix4f(*space.panda_matrix(r, t)))
        if pose.face is not None:
            self.apply_face(pose.face)
        # The character may have updated already this clock frame (right after loading it
        # does), and would then draw the file's rest pose once: bring the joints up to date now.
        self.actor.getPartBundle("modelRoot").forceUpdate()

    def apply_face(self, face: Face) -> None:
        """Set the morph targets whose weight changed, and the eyes."""
        from panda3d.core import LMatrix4f

        if self.face is None:
            return
        weights, eyes = self.face.solve(face)
        # NaN (never set) compares unequal, so it counts as changed.
        for k in np.flatnonzero(~(np.abs(weights - self.weights) < 1e-4)).tolist():
            control = self.sliders[k]
            if control is not None:
                control.setX(float(weights[k]))
        self.weights = weights
        if eyes is not None and self.eyes:
            basis = self.rig.basis
            turns = basis @ quat_to_matrix(eyes) @ basis.T
            for (control, parent_frame, rest_global, t), turn in zip(self.eyes, turns, strict=True):
                r = parent_frame.T @ turn @ rest_global
                control.setMat(LMatrix4f(*space.panda_matrix(r, t)))

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


def _morph_groups(actor: Any) -> dict[int, Any]:
    """Slider groups by glTF mesh index: panda3d-gltf names them ``morph/mesh<N>`` in the
    character of the skin that deforms mesh N."""
    out: dict[int, Any] = {}
    for character in actor.findAllMatches("**/+Character"):
        for b in range(character.node().getNumBundles()):
            morph = character.node().getBundle(b).findChild("morph")
            if morph is None:
                continue
            for group in morph.getChildren():
                label = group.getName()
                if label.startswith("mesh") and label[4:].isdigit():
                    out.setdefault(int(label[4:]), group)
    return out


def _orthonormal(m: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The rotation nearest ``m`` (drops any joint scale)."""
    u, _, vt = np.linalg.svd(m)
    out: np.ndarray[Any, np.dtype[np.float64]] = u @ vt
    return out
