"""A scene pack, built into Panda3D nodes: geometry, props, lights (as shader inputs), backdrop."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

from immersion.scenes.manifest import Light, ScenePack
from immersion.stage import backdrop_map, space
from immersion.stage.materials import mask_features
from immersion.stage.models import FEATURES_INPUT, load_model
from immersion.stage.target import RenderTarget


def hex_rgb(hex_colour: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """'#rrggbb' → sRGB floats in [0, 1]."""
    return np.array([int(hex_colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)])


def srgb_to_linear(hex_colour: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    c = hex_rgb(hex_colour)
    out: np.ndarray[Any, np.dtype[np.float64]] = np.where(
        c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4
    )
    return out


def shader(name: str) -> Any:
    from panda3d.core import Shader

    folder = resources.files("immersion.stage").joinpath("shaders")
    return Shader.make(
        Shader.SL_GLSL,
        folder.joinpath(f"{name}.vert").read_text(),
        folder.joinpath(f"{name}.frag").read_text(),
    )


def _vec(v: tuple[float, ...] | np.ndarray[Any, np.dtype[np.float64]]) -> str:
    return f"vec3({float(v[0]):.6f}, {float(v[1]):.6f}, {float(v[2]):.6f})"


def light_code(lights: tuple[Light, ...]) -> str:
    """GLSL statements adding each light's contribution to ``light`` (Panda space). The light
    marked ``shadows`` is scaled by ``lit`` (1.0, or the shadow map's verdict in rich mode)."""
    lines = []
    ambient = np.zeros(3)
    for li in lights:
        c = srgb_to_linear(li.colour) * li.intensity
        shade = " * lit" if li.shadows else ""
        if li.type == "ambient":
            ambient += c
            continue
        if li.type == "directional":
            assert li.direction is not None
            to_light = -np.asarray(space.point(li.direction))
            to_light /= np.linalg.norm(to_light)
            lines.append(f"light += {_vec(c)} * max(dot(n, {_vec(to_light)}), 0.0){shade};")
            continue
        assert li.position is not None
        k = 3.0 / li.range**2 if li.range else 0.0  # a quarter brightness at `range` metres
        lines.append(f"d = {_vec(space.point(li.position))} - v_world;")
        lines.append("lambert = max(dot(n, d), 0.0) * inversesqrt(dot(d, d));")
        if li.type == "spot":
            assert li.direction is not None and li.angle is not None
            axis = np.asarray(space.point(li.direction))
            axis /= np.linalg.norm(axis)
            outer = float(np.cos(np.radians(li.angle / 2)))
            inner = outer + (1.0 - outer) * 0.25
            lines.append(
                f"lambert *= smoothstep({outer:.6f}, {inner:.6f}, dot(-normalize(d), {_vec(axis)}));"
            )
        lines.append(f"light += {_vec(c)} * lambert / (1.0 + {k:.6f} * dot(d, d)){shade};")
    # Ambient is a little brighter on upward faces, as skylight is.
    lines.insert(0, f"light += {_vec(ambient)} * (0.75 + 0.25 * n.z);")
    return "\n    ".join(lines)


def key_code(lights: tuple[Light, ...]) -> str:
    """GLSL setting ``key_l`` (towards the light) and ``key_c`` (its colour at this point) for
    the one light whose highlight is drawn: the shadow caster, else the first non-ambient."""
    lit = [li for li in lights if li.type != "ambient"]
    key = next((li for li in lit if li.shadows), lit[0] if lit else None)
    if key is None:
        return ""
    c = srgb_to_linear(key.colour) * key.intensity
    shade = " * lit" if key.shadows else ""
    if key.type == "directional":
        assert key.direction is not None
        to_light = -np.asarray(space.point(key.direction))
        to_light /= np.linalg.norm(to_light)
        return f"key_l = {_vec(to_light)}; key_c = {_vec(c)}{shade};"
    assert key.position is not None
    k = 3.0 / key.range**2 if key.range else 0.0
    return (
        f"d = {_vec(space.point(key.position))} - v_world; key_l = normalize(d); "
        f"key_c = {_vec(c)} / (1.0 + {k:.6f} * dot(d, d)){shade};"
    )


def shadow_light(lights: tuple[Light, ...]) -> tuple[float, float, float, float]:
    """The shadow shader's light: position (w = 1) or direction (w = 0), Panda space.
    Without a light marked ``shadows``, straight down: a contact shadow under the feet."""
    for li in lights:
        if li.shadows and li.type == "directional" and li.direction is not None:
            d = np.asarray(space.point(li.direction))
            d /= np.linalg.norm(d)
            return (float(d[0]), float(d[1]), float(d[2]), 0.0)
        if li.shadows and li.position is not None:
            return (*space.point(li.position), 1.0)
    return (0.0, 0.0, -1.0, 0.0)


_VARIANTS: dict[tuple[tuple[Light, ...], bool, frozenset[str]], Any] = {}


def lit_shader(
    lights: tuple[Light, ...], shadow_map: bool = False, features: frozenset[str] = frozenset()
) -> Any:
    """The set's shader; ``shadow_map`` compiles in the rich path's shadow-map lookup and
    ``features`` (materials.FEATURES) a material's extras. One Shader per combination."""
    from panda3d.core import Shader

    key = (lights, shadow_map, features)
    if key not in _VARIANTS:
        folder = resources.files("immersion.stage").joinpath("shaders")
        names = (["SHADOW_MAP"] if shadow_map else []) + sorted(features)
        define = "\n".join(["#version 130", *(f"#define {name}" for name in names)])
        vert = folder.joinpath("lit.vert").read_text().replace("#version 130", define, 1)
        frag = folder.joinpath("lit.frag").read_text().replace("#version 130", define, 1)
        frag = frag.replace("// LIGHTS", light_code(lights)).replace("// KEY", key_code(lights))
        _VARIANTS[key] = Shader.make(Shader.SL_GLSL, vert, frag)
    return _VARIANTS[key]


def bind_variants(node: Any, lights: tuple[Light, ...], shadow_map: bool) -> None:
    """Give each glTF Geom under ``node`` the lit variant its material needs (models.py
    records the features with its look); other Geoms inherit the plain variant from above.
    Priority 0: a node's higher-priority shader (the planar shadow's, the sky's) still wins."""
    from panda3d.core import ShaderAttrib

    for path in node.findAllMatches("**/+GeomNode"):
        geom_node = path.node()
        for g in range(geom_node.getNumGeoms()):
            state = geom_node.getGeomState(g)
            attrib = state.getAttrib(ShaderAttrib)
            if attrib is None or attrib.getShaderInput(FEATURES_INPUT).getValueType() == 0:
                continue
            mask = int(attrib.getShaderInputVector(FEATURES_INPUT)[0])
            variant = lit_shader(lights, shadow_map, mask_features(mask))
            geom_node.setGeomState(g, state.setAttrib(attrib.setShader(variant)))


SHADOW_MAP_SIZE = 2048


def shadow_caster(lights: tuple[Light, ...], set_node: Any, root: Any) -> Any:
    """A Panda light under ``root`` that renders a shadow map of everything below ``root``
    for the pack's ``shadows`` light, fitted to the set's bounds. Its colour is unused: the
    lighting itself is compiled into the shader. None when no light casts shadows."""
    from panda3d.core import DirectionalLight, LVector3f, Spotlight

    from immersion.headset.eyes import masks

    caster = next((li for li in lights if li.shadows and li.type != "ambient"), None)
    if caster is None:
        return None
    lo, hi = set_node.getTightBounds(root)
    centre, radius = (lo + hi) / 2, (hi - lo).length() / 2
    if caster.type == "directional":
        assert caster.direction is not None
        node = DirectionalLight("shadow-caster")
        lens = node.getLens()
        lens.setFilmSize(2 * radius, 2 * radius)
        lens.setNearFar(-radius, radius)
        light = root.attachNewNode(node)
        light.setPos(centre)
        light.lookAt(centre + LVector3f(*space.point(caster.direction)))
    else:  # a point light shadows like a wide spot aimed at the set's centre
        assert caster.position is not None
        node = Spotlight("shadow-caster")
        lens = node.getLens()
        lens.setFov(caster.angle if caster.type == "spot" and caster.angle else 150.0)
        lens.setNearFar(0.05, 2 * radius + 20.0)
        light = root.attachNewNode(node)
        light.setPos(*space.point(caster.position))
        if caster.type == "spot" and caster.direction is not None:
            light.lookAt(light.getPos() + LVector3f(*space.point(caster.direction)))
        else:
            light.lookAt(centre)
    node.setShadowCaster(True, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE)
    # Only what the mirror sees casts shadows: an eyes-only fourth wall or the headset's
    # tally camera would otherwise darken the set in the casting team's picture.
    node.setCameraMask(masks()[0])
    root.setLight(light)
    return light


def build_set(pack: ScenePack, parent: Any) -> Any:
    """Geometry and props under a new node of ``parent``; returns that node. What only the
    actor's eyes see (``seen_by = "eyes"``) is hidden from the mirror cameras' mask, and the
    mirror's own from the eyes' (:func:`immersion.headset.eyes.masks`)."""
    from panda3d.core import LMatrix4f

    from immersion.headset.eyes import masks

    node = parent.attachNewNode(f"set-{pack.name}")
    mirror, eyes = masks()
    groups = {"both": node.attachNewNode("seen-by-both")}
    for placed in (*pack.geometry, *pack.props):
        if placed.seen_by not in groups:
            groups[placed.seen_by] = node.attachNewNode(f"seen-by-{placed.seen_by}")
            groups[placed.seen_by].hide(mirror if placed.seen_by == "eyes" else eyes)
        model = load_model(placed.file, pack.root)
        rot = space.TO_PANDA @ space.rotation_yup(placed.rotation) @ space.TO_PANDA.T
        model.setMat(
            LMatrix4f(*space.panda_matrix(rot, space.point(placed.position), placed.scale))
        )
        model.setName(placed.name)
        model.reparentTo(groups[placed.seen_by])
    for group in groups.values():  # each on its own: flattening must not merge their masks
        group.flattenMedium()  # fewer nodes and state changes; the set never moves
    return node


def build_backdrop(pack: ScenePack, target: RenderTarget) -> Any:
    """A full-frame card behind the set: gradient or image."""
    from panda3d.core import CardMaker

    for child in target.backdrop.findAllMatches("=backdrop-card"):
        child.removeNode()
    cm = CardMaker("backdrop")
    cm.setFrame(-1, 1, -1, 1)
    cm.setUvRange((0, 0), (1, 1))
    card = target.backdrop.attachNewNode(cm.generate())
    card.setTag("backdrop-card", "1")
    card.setY(1)
    paint_backdrop(card, pack)
    return card


def paint_backdrop(node: Any, pack: ScenePack, priority: int = 0) -> None:
    """Give ``node`` the backdrop shader and the pack's gradient (by its UVs: v 0 at the
    bottom, 1 at the top) and image (by direction, :mod:`~immersion.stage.backdrop_map`);
    the mirror's card and the headset's sky share it. ``node``'s vertices are taken for
    directions (a dome) until :func:`aim_backdrop` says otherwise."""
    from panda3d.core import Filename, SamplerState, Texture, TexturePool

    node.setShader(shader("backdrop"), priority)
    bd = pack.backdrop
    node.setShaderInput("u_top", tuple(map(float, hex_rgb(bd.top))))
    node.setShaderInput("u_bottom", tuple(map(float, hex_rgb(bd.bottom))))
    mapping = 0.0 if bd.image is None else 1.0 + backdrop_map.MAPPINGS.index(bd.mapping)
    node.setShaderInput("u_mapping", mapping)
    node.setShaderInput("u_card", backdrop_map.card_window(bd.span, bd.aspect))
    for name, value in backdrop_map.identity_inputs().items():
        node.setShaderInput(name, value)
    if bd.image is not None:
        tex: Texture = TexturePool.loadTexture(Filename.fromOsSpecific(str(bd.image)))
        if bd.mapping == "card":  # its edges are its own, not the far side's
            tex.setWrapU(SamplerState.WM_clamp)
            tex.setWrapV(SamplerState.WM_clamp)
        else:  # round the sky in u; the poles in v
            tex.setWrapU(SamplerState.WM_repeat)
            tex.setWrapV(SamplerState.WM_clamp)
        node.setTexture(tex)


def aim_backdrop(target: RenderTarget, root: Any) -> None:
    """Point the mirror's full-frame card along its camera (after a move or a new lens), so
    an image backdrop shows what lies that way instead of being stretched over the frame."""
    views = [(target.camera, target.lens, target.backdrop)]
    # A split picture's strips: each card is aimed for its own, narrower, lens.
    views += [(c.camera, c.lens, c.backdrop) for c in target.columns]
    for camera, lens, backdrop in views:
        rotation, _ = space.from_panda_matrix(camera.getMat(root))
        fov = lens.getFov()
        inputs = backdrop_map.frame_inputs(rotation, float(fov[0]), float(fov[1]))
        for card in backdrop.findAllMatches("=backdrop-card"):
            for name, value in inputs.items():
                card.setShaderInput(name, value)
