"""How far the face moves at a blendshape value of 1, shared by the rig and the solver.

Lengths are in interocular units (IOD: the distance between the two eyes' corner midpoints,
~63 mm on an adult) in the face frame (x to the viewer's right, y up, z towards the camera) unless
the name says otherwise. The magnitudes follow ARKit's reference animations roughly (a fully open
jaw drops the chin ~30 mm); the rig renders exactly these, and the solver divides by them, so a
rendered value comes back as itself when mediapipe sees the motion faithfully.
"""

IOD_M = 0.063  # metres per interocular unit, for head translation
CAMERA_DISTANCE_M = 0.6  # assumed camera distance: head_translation z -> image scale
# mediapipe's landmark depth is flatter than a real face: on the astronaut its nasal tip
# protrusion (subnasale-pronasale) is 0.27 IOD and pronasale-tragion 1.49 IOD, against ~0.33 and
# ~1.8 IOD in anthropometric tables (about 20 and 104 mm for a 57-60 mm interpupillary distance).
# The rig and the solver multiply landmark depth by this to get a face as deep as a real one.
LANDMARK_DEPTH_SCALE = 1.2

JAW_CHIN_DROP = 0.45  # chin moves down at jawOpen = 1
JAW_LOWER_LIP_DROP = 0.38  # the lower lip follows the jaw a little less
JAW_HINGE_BACK = 1.1  # the jaw rotates about a hinge this far behind the eye line (z)
MOUTH_CLOSE_LIFT = 0.9  # mouthClose = 1 brings the lower lip back up by this fraction of the jaw drop

SMILE_LIFT = 0.10  # mouth corner moves up
SMILE_OUT = 0.09  # and outwards
FROWN_DROP = 0.08  # mouth corner moves down
STRETCH_OUT = 0.09  # corner moves outwards (and slightly down)
DIMPLE_BACK = 0.04  # corner moves in and back
PUCKER_IN = 0.10  # each corner moves towards the midline (lips push forward)
PUCKER_POUT = 0.03  # and each lip's outer edge moves outwards (the red grows as the lips pout)
FUNNEL_IN = 0.08  # each corner moves towards the midline
FUNNEL_OPEN = 0.08  # and the lips part vertically (each lip)
ROLL_IN = 0.05  # a lip rolls inwards: its red part thins by this much
ROLL_TUCK = 0.03  # mouthRollLower: the lower lip's inner edge rises under the upper teeth
PRESS_THIN = 0.025  # mouthPress: each lip's red flattens by this much at its middle (by the
#                     same share of its height elsewhere) and the lips seal a parted photo
LOWER_DOWN = 0.08  # mouthLowerDown: lower lip drops
UPPER_UP = 0.07  # mouthUpperUp: upper lip rises
SHRUG = 0.04  # mouthShrugLower/Upper: lip moves up
MOUTH_SIDE = 0.10  # mouthLeft/Right shift
JAW_SIDE = 0.10  # jawLeft/Right shift of the chin
JAW_FORWARD = 0.08  # jawForward

BROW_INNER_UP = 0.12
BROW_OUTER_UP = 0.12
BROW_DOWN = 0.08
CHEEK_PUFF_OUT = 0.08
CHEEK_SQUINT_UP = 0.05
NOSE_SNEER_UP = 0.05

EYE_WIDE_OPEN = 0.35  # the upper lid rises by this fraction of the eye's rest aperture
EYE_SQUINT_UP = 0.30  # the lower lid rises by this fraction of the rest aperture
GAZE_H = 0.18  # iris moves horizontally, in eye widths, at eyeLookIn/Out = 1
GAZE_V = 0.10  # and vertically at eyeLookUp/Down = 1
