#version 130
// The avatar flattened onto the floor along the shadow light: a cheap planar shadow.
uniform mat4 p3d_ModelMatrix;
uniform mat4 p3d_ViewProjectionMatrix;
uniform vec4 u_shadow_light;  // xyz light position (w = 1) or direction it shines (w = 0)
uniform float u_floor;        // floor height (Panda Z) plus a lift against z-fighting
in vec4 p3d_Vertex;

void main() {
    vec3 p = (p3d_ModelMatrix * p3d_Vertex).xyz;
    vec3 d = u_shadow_light.w > 0.5 ? p - u_shadow_light.xyz : u_shadow_light.xyz;
    d.z = min(d.z, -0.05 * length(d));  // a light from below or level still casts downwards
    float t = (u_floor - p.z) / d.z;
    gl_Position = p3d_ViewProjectionMatrix * vec4(p + d * max(t, 0.0), 1.0);
}
