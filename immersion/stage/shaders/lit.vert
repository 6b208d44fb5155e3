#version 130
// World-space position and normal for the set's own lighting (lit.frag).
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
#ifdef SHADOW_MAP
uniform mat4 p3d_ModelViewMatrix;
uniform struct p3d_LightSourceParameters {
    sampler2DShadow shadowMap;
    mat4 shadowViewMatrix;
} p3d_LightSource[1];
out vec4 v_shadow;
#endif
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;
in vec2 p3d_MultiTexCoord0;
in vec2 p3d_MultiTexCoord1;
out vec3 v_world;
out vec3 v_normal;
out vec4 v_colour;
#ifdef TEX_TRANSFORM
out vec4 v_uv;  // UV sets 0 (xy) and 1 (zw)
#elif defined(BASE_TEX) || defined(EMISSIVE_TEX)
out vec2 v_uv;
#endif

void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
    v_normal = mat3(p3d_ModelMatrix) * p3d_Normal;
    v_colour = p3d_Color;
#ifdef TEX_TRANSFORM
    v_uv = vec4(p3d_MultiTexCoord0, p3d_MultiTexCoord1);
#elif defined(BASE_TEX) || defined(EMISSIVE_TEX)
    v_uv = p3d_MultiTexCoord0;
#endif
#ifdef SHADOW_MAP
    v_shadow = p3d_LightSource[0].shadowViewMatrix * (p3d_ModelViewMatrix * p3d_Vertex);
#endif
}
