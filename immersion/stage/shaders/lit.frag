#version 130
// The stage's lighting: per-pixel Lambert from the pack's lights. The lights are compiled in
// (set_builder.lit_shader writes them over LIGHTS below): on a software rasteriser a loop over
// uniform arrays cost four times as much as this unrolled, branch-free form.
// Colours are linear; the output is gamma-encoded for an 8-bit sRGB frame. With SHADOW_MAP
// (the rich path, for GPUs) the shadow-casting light is masked by a filtered shadow map.
uniform struct p3d_MaterialParameters { vec4 baseColor; vec4 emission; } p3d_Material;
uniform sampler2D p3d_Texture0;
uniform vec3 u_eye;
uniform vec4 u_cutaway;  // xyz, w: a sphere not drawn (the avatar's head, seen from inside it)
in vec3 v_world;
in vec3 v_normal;
in vec4 v_colour;
in vec2 v_uv;
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

void main() {
    if (distance(v_world, u_cutaway.xyz) < u_cutaway.w) discard;
    vec4 base = p3d_Material.baseColor * v_colour * texture(p3d_Texture0, v_uv);
    if (base.a < 0.3) discard;
    vec3 n = normalize(v_normal);
    if (dot(n, u_eye - v_world) < 0.0) n = -n;  // thin sheets are lit on the side in view
    vec3 light = vec3(0.0);
    vec3 d;
    float lambert;
#ifdef SHADOW_MAP
    float lit = shadow_lit();
#else
    float lit = 1.0;
#endif
    // LIGHTS
    vec3 c = base.rgb * light + p3d_Material.emission.rgb;
    c = c / (1.0 + 0.15 * max(c - 1.0, 0.0));  // soften highlights past white
    o_colour = vec4(pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
