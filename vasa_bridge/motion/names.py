"""The 52 ARKit blendshape names, in ARKit's canonical order, and their variants.

Canonical order is the one of Apple's documentation, Unreal's Live Link and our wire protocol:
eyes (left then right), jaw, mouth, brows, cheeks, nose, tongue. Unity's
`ARKitBlendShapeLocation` enum is alphabetical and mediapipe has its own order, so every
interface carries names, never bare indices.
"""

from __future__ import annotations

ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_NAMES)
assert NUM_BLENDSHAPES == 52

INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}

# jawLeft/jawRight/mouthLeft/mouthRight describe a direction, not a side of the face:
# Apple's raw strings keep them whole.
_DIRECTIONAL = frozenset({"jawLeft", "jawRight", "mouthLeft", "mouthRight"})


def to_apple_raw(name: str) -> str:
    """`eyeBlinkLeft` -> `eyeBlink_L` (the strings ARKit's C API and many rigs use)."""
    index_of(name)
    if name in _DIRECTIONAL:
        return name
    if name.endswith("Left"):
        return name[: -len("Left")] + "_L"
    if name.endswith("Right"):
        return name[: -len("Right")] + "_R"
    return name


def from_apple_raw(raw: str) -> str:
    """`eyeBlink_L` -> `eyeBlinkLeft`; canonical names pass through unchanged."""
    if raw.endswith("_L"):
        name = raw[:-2] + "Left"
    elif raw.endswith("_R"):
        name = raw[:-2] + "Right"
    else:
        name = raw
    index_of(name)
    return name


def to_pascal(name: str) -> str:
    """`jawOpen` -> `JawOpen` (Perfect Sync names for VRM avatars and VMC receivers)."""
    index_of(name)
    return name[0].upper() + name[1:]


def index_of(name: str) -> int:
    """Canonical index of an ARKit name; raises KeyError naming the bad value."""
    try:
        return INDEX[name]
    except KeyError:
        raise KeyError(f"unknown blendshape name {name!r}: expected one of the 52 ARKit names "
                       f"such as 'jawOpen' or 'eyeBlinkLeft'") from None
