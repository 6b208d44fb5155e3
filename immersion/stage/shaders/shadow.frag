#version 130
uniform float u_shadow_strength;
out vec4 o_colour;

void main() {
    o_colour = vec4(0.0, 0.0, 0.0, u_shadow_strength);
}
