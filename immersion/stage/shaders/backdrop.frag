#version 130
// Behind the set: a vertical gradient (colours already gamma-encoded sRGB), and an image
// placed by the direction looked along (immersion.stage.backdrop_map holds the same maths):
// once round the sky (equirectangular) or as a card at infinity into the set.
uniform sampler2D p3d_Texture0;
uniform vec3 u_top;
uniform vec3 u_bottom;
uniform float u_mapping;  // 0: no image; 1: equirectangular; 2: card
uniform vec2 u_card;      // the card's half width and half height one unit into the set
in vec2 v_uv;
in vec3 v_dir;
out vec4 o_colour;

const float PI = 3.14159265358979;

void main() {
    vec3 colour = mix(u_bottom, u_top, smoothstep(0.0, 1.0, v_uv.y));
    vec3 d = normalize(v_dir);
    if (u_mapping > 0.5 && u_mapping < 1.5) {
        vec2 uv = vec2(0.5 + atan(d.x, d.y) / (2.0 * PI), 0.5 + asin(clamp(d.z, -1.0, 1.0)) / PI);
        // The derivatives of uv jump where longitude wraps: sample with those of a seamless one.
        vec2 flat_uv = vec2(0.5 + atan(d.x, abs(d.y) + 1e-6) / (2.0 * PI), uv.y);
        colour = textureGrad(p3d_Texture0, uv, dFdx(flat_uv), dFdy(flat_uv)).rgb;
    } else if (u_mapping > 1.5 && d.y > 0.0) {
        vec2 uv = 0.5 + d.xz / d.y / (2.0 * u_card);
        if (all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)))) {
            colour = texture(p3d_Texture0, uv).rgb;
        }
    }
    o_colour = vec4(colour, 1.0);
}
