"""Reference numbers from vasa_bridge.motion.conversions for the C# tests (head pose, VRM, slerp).

Run from the repo root: python unity-package/Tests/Mono~/make_reference.py OUT.json
"""

import json
import sys

import numpy as np

from vasa_bridge.motion.conversions import (euler_to_quat, interpolate, quat_to_euler,
                                            to_unity_position, to_unity_quaternion, to_vrm0,
                                            to_vrm1)
from vasa_bridge.motion.frame import MotionFrame


def main(out: str) -> None:
    rng = np.random.default_rng(7)
    eulers = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10], [5, -10, 2.5], [-30, 45, 15],
              [80, -120, 170]] + rng.uniform(-90, 90, (8, 3)).round(3).tolist()
    translations = [[0.01, -0.02, 0.03], [-0.1, 0.2, -0.3]]
    shapes = rng.uniform(0, 1, (6, 52)).astype(np.float32)
    shapes[0] = 0
    shapes[1, :] = 0
    shapes[1, 17] = 0.8  # jawOpen alone
    a = MotionFrame(shapes[2], [10, -20, 5], [0.0, 0.01, 0.0], 1.0)
    b = MotionFrame(shapes[3], [-15, 30, -10], [0.02, 0.0, -0.01], 1.04)
    mid = interpolate(a, b, 0.25)
    ref = {
        "pose": [{"euler": e, "quat": euler_to_quat(np.array(e)).tolist(),
                  "unity_quat": to_unity_quaternion(np.array(e)).tolist(),
                  "back": quat_to_euler(euler_to_quat(np.array(e))).tolist()} for e in eulers],
        "position": [{"translation": t, "unity": to_unity_position(np.array(t)).tolist()}
                     for t in translations],
        "vrm": [{"shapes": s.tolist(),
                 "vrm1": {k: float(v) for k, v in to_vrm1(s).items()},
                 "vrm0": {k: float(v) for k, v in to_vrm0(s).items()}} for s in shapes],
        "interpolate": {"a": {"shapes": shapes[2].tolist(), "rot": [10, -20, 5], "tr": [0.0, 0.01, 0.0]},
                        "b": {"shapes": shapes[3].tolist(), "rot": [-15, 30, -10], "tr": [0.02, 0.0, -0.01]},
                        "t": 0.25, "shapes": mid.blendshapes.tolist(),
                        "rot": mid.head_rotation.tolist(), "tr": mid.head_translation.tolist()},
    }
    with open(out, "w") as f:
        json.dump(ref, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
