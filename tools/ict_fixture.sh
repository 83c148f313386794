#!/bin/sh
# Rebuild tests/data/ict_vertices.json from a checkout of ICT-VGL/ICT-FaceKit, with awk only, so that the test of the
# converted asset (tests/test_face3d.py) compares it with the .obj files and not with the converter's own reading.
#   sh tools/ict_fixture.sh PATH/TO/ICT-FaceKit > tests/data/ict_vertices.json
set -e
model="$1/FaceXModel"
list="0 966 5708 6200 9408 12000 18000 22500 24590"
commit=$(git -C "$1" rev-parse HEAD 2>/dev/null || echo unknown)
echo '{'
echo "  \"_about\": \"Vertex coordinates copied from ICT-FaceKit commit $commit .obj files with awk (tools/ict_fixture.sh), independently of tools/ict_facekit.py. 0-based vertex indices.\","
echo "  \"vertices\": [$(echo $list | sed 's/ /, /g')],"
echo '  "shapes": {'
first=1
for shape in generic_neutral_mesh mouthSmile_L mouthShrugLower cheekRaiser_R mouthUpperUp_R mouthStretch_L jawOpen identity000 identity007 identity039; do
  [ $first = 1 ] || echo ','
  first=0
  printf '    "%s": [' "$shape"
  awk -v list="$list" 'BEGIN{split(list,a," "); for(i in a) want[a[i]+1]=1}
    /^v /{n++; if (n in want) {out = out sep "[" $2 ", " $3 ", " $4 "]"; sep=", "}} END{printf "%s", out}' "$model/$shape.obj"
  printf ']'
done
echo
echo '  }'
echo '}'
