"""SynthAU: a procedural face dataset with exact 68-point landmarks and AU intensities (0–5).

SynthAU stands in for BP4D where licensed data is not available (students, CI, the README's main command).

- **Subjects** have their own face shape, feature sizes, colours, skin texture, hair, facial hair, glasses and
  expressivity (:mod:`aulib.data.synthau.faces`). Subjects are the unit of every split; sets have many of them
  (120 by default), so that a network cannot score by recognising people.
- **Every subject performs every task**: the eight tasks of BP4D's protocol (:data:`TASKS`, T1–T8), one short
  clip each. A clip samples its frames from a longer performance, so it spans onsets, apexes and offsets. AUs
  co-occur as in spontaneous expressions (AU6 with AU12 in amusement) but each fires with its own probability, and
  spontaneous events happen in any task (:data:`BACKGROUND_RATE`). Most frames show an AU absent, with a real tail
  at 3–5. Labels are integers 0–5, like FACS codes; the face is drawn from the continuous intensity.
- **AUs act as FACS describes, at FACS sizes**: each moves the landmarks by a documented amount
  (:data:`aulib.data.synthau.faces.AU_MOTION`; the AU12 lip corners move 0.25 IOD at intensity 5) and changes the
  appearance where :mod:`aulib.method.aus` puts its centres (:mod:`aulib.data.synthau.cues`), scaled by intensity.
- **Domain randomisation** (:mod:`aulib.data.synthau.scene`): position, scale, roll, yaw and pitch; lighting,
  cast shadows and colour; plain or cluttered backgrounds; hands and objects in front of the face; blur, sensor
  noise, tone curves and JPEG compression. Frames are not pre-aligned.
- **Tracker-like landmarks** (drift, jitter and a pull towards the neutral shape) are what the pipeline gets; the
  exact landmarks are stored beside them.
- **Difficulty** (:class:`Difficulty`) scales all of that but the AU motion itself.
- **Deterministic**: a seed gives byte-identical files, however many worker processes are used.

On-disk layout written by :func:`generate` (read back with :func:`read_labels` / :func:`iter_frames`)::

    ROOT/
      synthau.json                 generation settings, AU list, counts; "complete": true when finished
      labels.csv                   subject, sequence, frame, AU01 … AU26 (integer codes 0–5)
      Sequences/S001/T1/0001.png   frames (RGB PNG, square), numbered from 1; T1 … T8 are the tasks
      Sequences/S001/T1/landmarks.npy        (F, 68, 2) tracker-like landmarks, image pixels
      Sequences/S001/T1/exact_landmarks.npy  (F, 68, 2) the landmarks that drew the face
      Sequences/S001/T1/intensities.npy      (F, 14) continuous intensities of SIMULATED_AUS
      Sequences/S001/T1/labels.npy           (F, 14) integer codes (rounded intensities)
      Sequences/S001/T1/task.txt             the task performed

Example:
    >>> import tempfile
    >>> from aulib.data.synthau import generate, read_labels
    >>> root = tempfile.mkdtemp()
    >>> _ = generate(root, subjects=2, frames=8, seed=0, progress=False, workers=1)
    >>> labels = read_labels(root)
    >>> labels.shape, labels.groupby("subject").sequence.nunique().tolist()  # one clip of each task per subject
    ((16, 8), [8, 8])
"""

from aulib.data.synthau.generate import (
    FORMAT_VERSION,
    generate,
    iter_frames,
    load_config,
    read_labels,
    render_sequence,
    render_still,
    still_face,
    subject_identity,
)
from aulib.data.synthau.protocol import (
    BACKGROUND_RATE,
    CLIP_SPAN,
    DEFAULT_DIFFICULTY,
    TASKS,
    Difficulty,
    SynthConfig,
    Task,
    clip_lengths,
    intensity_trajectories,
    subject_name,
)
from aulib.method.aus import BP4D_AUS

# The reader interface of aulib.data.prepare: the default label set and the landmark layout.
AUS = BP4D_AUS
LANDMARK_LAYOUT = 68

__all__ = [
    "AUS",
    "BACKGROUND_RATE",
    "CLIP_SPAN",
    "DEFAULT_DIFFICULTY",
    "FORMAT_VERSION",
    "LANDMARK_LAYOUT",
    "TASKS",
    "Difficulty",
    "SynthConfig",
    "Task",
    "clip_lengths",
    "generate",
    "intensity_trajectories",
    "iter_frames",
    "load_config",
    "read_labels",
    "render_sequence",
    "render_still",
    "still_face",
    "subject_identity",
    "subject_name",
]
