#version 130
// The stage's lighting: per-pixel Lambert from the pack's lights. The lights are compiled in
// (set_builder.lit_shader writes them over LIGHTS and KEY below): on a software rasteriser a
// loop over uniform arrays cost four times as much as this unrolled, branch-free form.
// Colours are linear; the output is gamma-encoded for an 8-bit sRGB frame. With SHADOW_MAP
// (the rich path, for GPUs) the shadow-casting light is masked by a filtered shadow map and its
// highlight is GGX metallic-roughness; the fast path approximates it with Blinn-Phong.
// Materials arrive per Geom as u_* inputs (immersion.stage.materials, models.py); each Geom is
// drawn by the variant compiled with only its material's features defined (materials.FEATURES:
// BASE_TEX, TEX_TRANSFORM, EMISSIVE_TEX, SPECULAR, MTOON, ALPHA_MASK, ALPHA_BLEND), since a
// software rasteriser pays per pixel for every feature compiled in, used or not.
uniform vec4 u_base;          // base colour factor (linear rgb, alpha)
uniform vec4 u_emit;          // emissive colour (linear rgb)
#ifdef BASE_TEX
uniform sampler2D u_base_tex;
#endif
#ifdef EMISSIVE_TEX
uniform sampler2D u_emit_tex;
#endif
#ifdef TEX_TRANSFORM
uniform vec4 u_base_u;        // texture transform, Panda UVs → texture: u row (xyz), UV set (w)
uniform vec4 u_base_v;        // v row (xyz)
uniform vec4 u_emit_u;
uniform vec4 u_emit_v;
in vec4 v_uv;                 // UV sets 0 (xy) and 1 (zw)
#elif defined(BASE_TEX) || defined(EMISSIVE_TEX)
in vec2 v_uv;
#endif
#if defined(ALPHA_MASK) || defined(ALPHA_BLEND)
uniform vec4 u_alpha;         // y: mask cutoff
#endif
#ifdef MTOON
uniform vec4 u_shade;         // MToon shade colour (rgb)
#endif
#ifdef SPECULAR
uniform vec4 u_pbr;           // x: metallic, y: roughness
#endif
// The rendering camera's own inverse view: each camera (mirror, headset eye) lights thin
// sheets and highlights from where it is, not from one shared eye position.
uniform mat4 p3d_ViewMatrixInverse;
uniform vec4 u_cutaway;  // xyz, w: a sphere not drawn (the avatar's head, seen from inside it)
in vec3 v_world;
in vec3 v_normal;
in vec4 v_colour;
out vec4 o_colour;
#ifdef SHADOW_MAP
uniform struct p3d_LightSourceParameters {
    sampler2DShadow shadowMap;
    mat4 shadowViewMatrix;
} p3d_LightSource[1];
in vec4 v_shadow;

float shadow_lit() {
    // 3x3 percentage-closer filter over the key light's shadow map (hardware depth compare).
    vec3 s = v_shadow.xyz / v_shadow.w;
    if (any(lessThan(s.xy, vec2(0.0))) || any(greaterThan(s.xy, vec2(1.0)))) return 1.0;
    s.z -= 0.0015;  // depth bias against self-shadowing acne
    float texel = 1.0 / float(textureSize(p3d_LightSource[0].shadowMap, 0).x);
    float sum = 0.0;
    for (int x = -1; x <= 1; ++x)
        for (int y = -1; y <= 1; ++y)
            sum += texture(p3d_LightSource[0].shadowMap, s + vec3(x, y, 0) * texel);
    return sum / 9.0;
}
#endif

#ifdef TEX_TRANSFORM
vec2 uv_of(vec4 u, vec4 v) {
    vec3 st = vec3(u.w > 0.5 ? v_uv.zw : v_uv.xy, 1.0);
    return vec2(dot(u.xyz, st), dot(v.xyz, st));
}
#define BASE_UV uv_of(u_base_u, u_base_v)
#define EMIT_UV uv_of(u_emit_u, u_emit_v)
#else
#define BASE_UV v_uv
#define EMIT_UV v_uv
#endif

void main() {
    if (distance(v_world, u_cutaway.xyz) < u_cutaway.w) discard;
#ifdef BASE_TEX
    vec4 tex = texture(u_base_tex, BASE_UV);
    vec4 base = u_base * v_colour * tex;
#else
    vec4 base = u_base * v_colour;
#endif
#if defined(ALPHA_MASK)
    if (base.a < u_alpha.y) discard;
#elif defined(ALPHA_BLEND)
    if (base.a < 0.1) discard;  // blend's clear fringe writes no depth
#endif
    vec3 n = normalize(v_normal);
    vec3 to_eye = p3d_ViewMatrixInverse[3].xyz - v_world;
    if (dot(n, to_eye) < 0.0) n = -n;  // thin sheets are lit on the side in view
    vec3 light = vec3(0.0);
    vec3 d;
    float lambert;
#ifdef SHADOW_MAP
    float lit = shadow_lit();
#else
    float lit = 1.0;
#endif
#ifdef SPECULAR
    vec3 key_l = vec3(0.0, 0.0, 1.0);
    vec3 key_c = vec3(0.0);
#endif
    // LIGHTS
#ifdef SPECULAR
    // KEY
    vec3 v = normalize(to_eye);
    float metal = u_pbr.x, rough = clamp(u_pbr.y, 0.05, 1.0);
    vec3 f0 = mix(vec3(0.04), base.rgb, metal);
    vec3 h = normalize(key_l + v);
    float nl = max(dot(n, key_l), 0.0), nh = max(dot(n, h), 0.0);
#ifdef SHADOW_MAP
    float a2 = rough * rough * rough * rough;
    float q = nh * nh * (a2 - 1.0) + 1.0;
    // Schlick's Fresnel, its grazing rise capped by the roughness (no light to rim rough cloth).
    vec3 fresnel = f0 + (max(vec3(1.0 - rough), f0) - f0) * pow(1.0 - max(dot(v, h), 0.0), 5.0);
    vec3 spec = fresnel * (a2 / (3.14159 * q * q)) * 0.25 * nl;
#else
    float shininess = clamp(2.0 / (rough * rough * rough * rough) - 2.0, 1.0, 256.0);
    vec3 spec = f0 * (shininess + 8.0) / 25.13 * pow(nh, shininess) * nl;
#endif
    // No environment to reflect: a metal keeps half its colour as diffuse instead of none.
    // The highlight fades out towards roughness 1 (matte cloth and skin, untextured sets keep
    // their look; a rough lobe is mostly what an environment would have lit).
    vec3 c = base.rgb * (1.0 - 0.5 * metal) * light + spec * key_c * (1.0 - rough * rough);
#else
    vec3 c = base.rgb * light;
#endif
#ifdef MTOON
    // MToon: shade colour where the light is weak, base where strong.
    float k = clamp(max(light.r, max(light.g, light.b)), 0.0, 1.0);
#ifdef BASE_TEX
    vec3 shade = u_shade.rgb * tex.rgb;
#else
    vec3 shade = u_shade.rgb;
#endif
    c = mix(shade, base.rgb, smoothstep(0.15, 0.5, k)) * min(2.0 * k, 1.0);
#endif
#ifdef EMISSIVE_TEX
    c += u_emit.rgb * texture(u_emit_tex, EMIT_UV).rgb;
#else
    c += u_emit.rgb;
#endif
    c = c / (1.0 + 0.15 * max(c - 1.0, 0.0));  // soften highlights past white
#ifdef ALPHA_BLEND
    o_colour = vec4(pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2)), base.a);
#else
    o_colour = vec4(pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
#endif
}
