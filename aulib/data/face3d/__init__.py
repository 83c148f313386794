"""SynthAU-3D: faces rendered from ICT-FaceKit's 3D face model (MIT), with FACS AUs as its expression shapes.

- :mod:`aulib.data.face3d.model`: the mesh, identity modes, expression shapes and the AU → shape table (numpy);
- :mod:`aulib.data.face3d.render`: the OpenGL renderer (moderngl; EGL on headless Linux).

The converted model ``ict_face_light.npz`` ships with the package; ``LICENSE-ICT-FaceKit.md`` holds its MIT notice.
"""
