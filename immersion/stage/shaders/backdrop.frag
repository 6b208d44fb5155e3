#version 130
// Behind the set: a vertical gradient (colours already gamma-encoded sRGB) or an image.
uniform sampler2D p3d_Texture0;
uniform vec3 u_top;
uniform vec3 u_bottom;
uniform float u_use_image;
in vec2 v_uv;
out vec4 o_colour;

void main() {
    vec3 g = mix(u_bottom, u_top, smoothstep(0.0, 1.0, v_uv.y));
    o_colour = vec4(mix(g, texture(p3d_Texture0, v_uv).rgb, u_use_image), 1.0);
}
