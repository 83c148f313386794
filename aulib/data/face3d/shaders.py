"""The GLSL shaders of SynthAU-3D's renderer (:mod:`aulib.data.face3d.render`).

The vertex shader projects; the fragment shader adds the procedural skin (pores, blotches, freckles, stubble and
forehead lines as value noise in ICT's UV space), the folds (UV segments, see ``FaceRenderer._folds``: each darkens
the albedo and is a groove in a height field) and the chin's dimpling (a noise patch in the same height field), then
bends the normal by the height field's gradient (bump mapping from screen-space derivatives, Mikkelsen 2010,
"Bump Mapping Unparametrized Surfaces on the GPU"), so that a fold shades as a groove under the key light; and the
lighting: a key and a fill light, ambient, and a Blinn-Phong specular term
whose strength and sharpness follow a per-vertex gloss. Colours are shaded in linear light and written back with a
2.2 gamma.
"""

MAX_SEGMENTS = 32  # the fragment shader's array of folds

VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
in vec3 position;
in vec3 normal;
in vec3 albedo;
in vec2 uv;
in vec4 masks;   // stubble (-1: hair), forehead, skin, gloss
out vec3 v_position;
out vec3 v_normal;
out vec3 v_albedo;
out vec2 v_uv;
out vec4 v_masks;
void main() {
    v_position = position;
    v_normal = normal;
    v_albedo = albedo;
    v_uv = uv;
    v_masks = masks;
    gl_Position = mvp * vec4(position, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330
#define MAX_SEGMENTS {MAX_SEGMENTS}
uniform vec3 eye;
uniform vec3 key_direction;
uniform vec3 key_colour;
uniform vec3 fill_direction;
uniform vec3 fill_colour;
uniform vec3 ambient;
uniform float skin_seed;
uniform float freckles;
uniform float stubble;
uniform float age_lines;
uniform float pores;
uniform int segment_count;
uniform vec4 segments[MAX_SEGMENTS];      // UV start, UV end
uniform vec3 segment_style[MAX_SEGMENTS]; // darkening, half-width in UV, depth in cm
uniform vec4 chin;                         // UV centre, UV radius, depth of the dimpling in cm
in vec3 v_position;
in vec3 v_normal;
in vec3 v_albedo;
in vec2 v_uv;
in vec4 v_masks;
out vec4 colour;

float hash(vec2 p) { return fract(sin(dot(p, vec2(127.1, 311.7)) + skin_seed) * 43758.5453); }
float value_noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash(i), hash(i + vec2(1, 0)), u.x), mix(hash(i + vec2(0, 1)), hash(i + vec2(1, 1)), u.x), u.y);
}
float segment_distance(vec2 p, vec2 a, vec2 b) {
    vec2 ab = b - a;
    float t = clamp(dot(p - a, ab) / max(dot(ab, ab), 1e-8), 0.0, 1.0);
    return length(p - a - t * ab);
}

void main() {
    vec3 base = pow(v_albedo, vec3(2.2));  // sRGB-like vertex colours to linear
    float skin = v_masks.z;
    // Folds and dimpling, computed for every fragment: screen-space derivatives need uniform control flow.
    float fold = 0.0;
    float height = 0.0;
    for (int k = 0; k < segment_count; ++k) {
        float d = segment_distance(v_uv, segments[k].xy, segments[k].zw);
        float profile = exp(-pow(d / segment_style[k].y, 2.0));
        fold = max(fold, segment_style[k].x * profile);
        height -= segment_style[k].z * profile;
    }
    float chin_patch = exp(-pow(length(v_uv - chin.xy) / max(chin.z, 1e-6), 2.0));
    height -= chin.w * chin_patch * value_noise(v_uv * 140.0 + 7.0);
    height *= step(0.0, skin) * skin;
    float dhdx = dFdx(height), dhdy = dFdy(height);
    vec3 dpdx = dFdx(v_position), dpdy = dFdy(v_position);
    if (skin > 0.0) {
        float blotch = value_noise(v_uv * 9.0) - 0.5;
        float pore = value_noise(v_uv * 420.0) - 0.5;
        float freckle = smoothstep(0.78, 0.86, value_noise(v_uv * 95.0 + 17.0)) * freckles;
        float beard = smoothstep(0.45, 0.7, value_noise(v_uv * 600.0 + 3.0)) * stubble * v_masks.x;
        float lines = v_masks.y * age_lines * smoothstep(0.75, 0.97, 0.5 + 0.5 * sin(v_uv.y * 230.0
                       + 9.0 * value_noise(v_uv * vec2(7.0, 3.0)))) * value_noise(v_uv * vec2(12.0, 4.0) + 5.0);
        float shade = 1.0 + 0.10 * blotch + pores * pore - 0.35 * freckle - 0.55 * beard - 0.18 * lines - fold;
        base *= skin * max(shade, 0.05) + (1.0 - skin);
        base *= vec3(1.0, 1.0 - 0.25 * freckle, 1.0 - 0.45 * freckle);
    } else if (v_masks.x < 0.0) {
        // Hair: strands as noise stretched along the UV layout's vertical, with darker roots between clumps.
        float strands = value_noise(v_uv * vec2(900.0, 60.0) + 11.0);
        float clumps = value_noise(v_uv * vec2(60.0, 12.0) + 29.0);
        base *= 0.55 + 0.6 * strands * (0.6 + 0.4 * clumps);
    }
    vec3 n = normalize(v_normal);
    vec3 view = normalize(eye - v_position);
    if (dot(n, view) < 0.0) n = -n;  // inside of the mouth and the eyelids' back faces
    // Bump mapping: tilt the normal by the height field's surface gradient.
    vec3 r1 = cross(dpdy, n), r2 = cross(n, dpdx);
    float det = dot(dpdx, r1);
    vec3 gradient = sign(det) * (dhdx * r1 + dhdy * r2);
    if (abs(det) > 1e-12) n = normalize(abs(det) * n - gradient);
    float key = max(dot(n, key_direction), 0.0);
    float fill = max(dot(n, fill_direction), 0.0);
    vec3 halfway = normalize(key_direction + view);
    float gloss = v_masks.w;
    float specular = gloss * pow(max(dot(n, halfway), 0.0), mix(18.0, 90.0, gloss)) * key;
    vec3 lit = base * (ambient + key_colour * key + fill_colour * fill) + key_colour * specular * 0.35;
    colour = vec4(pow(clamp(lit, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
""".replace("{MAX_SEGMENTS}", str(MAX_SEGMENTS))
