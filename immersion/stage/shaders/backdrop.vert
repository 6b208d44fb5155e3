#version 130
// v_dir: the direction this vertex is seen along in the set (immersion.stage.backdrop_map):
// a dome's own vertices (identity inputs), or the mirror card's corners through its camera.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform vec3 u_dx;
uniform vec3 u_dy;
uniform vec3 u_dz;
uniform vec3 u_d0;
in vec4 p3d_Vertex;
in vec2 p3d_MultiTexCoord0;
out vec2 v_uv;
out vec3 v_dir;

void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_uv = p3d_MultiTexCoord0;
    v_dir = p3d_Vertex.x * u_dx + p3d_Vertex.y * u_dy + p3d_Vertex.z * u_dz + u_d0;
}
