"""Portrait analysis on the astronaut and on synthetic bad inputs: each gets its error."""

import numpy as np
import pytest
import skimage.data

from vasa_bridge.errors import FaceNotFoundError, FaceTooSmallError
from vasa_bridge.face import PortraitConfig, analyse_portrait, mesh
from vasa_bridge.face.portrait import _crop_box  # noqa: F401  (exercised through analyse)


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


def test_astronaut_crop_landmarks_mask(astronaut):
    p = analyse_portrait(astronaut)
    assert p.image.shape == (512, 512, 3)
    assert p.landmarks.shape == (mesh.NUM_LANDMARKS, 3)
    # The face sits in the upper middle of a head-and-shoulders crop.
    u, v = p.landmarks[:, 0].mean(), p.landmarks[:, 1].mean()
    assert 180 < u < 330 and 120 < v < 260
    # The person mask covers the face and not the top corners (background).
    assert p.person_alpha[int(v), int(u)] > 0.9
    assert p.person_alpha[:20, :20].mean() < 0.1 and p.person_alpha[:20, -20:].mean() < 0.1
    assert not p.eyes_closed
    # She smiles with her teeth showing: the open-mouth warning names the measured gap.
    assert p.mouth_open and any("mouth is open" in w for w in p.warnings)


@pytest.mark.parametrize("name, parted", [("donilon", False), ("astronaut", True),
                                          ("obama", True)])
def test_only_parted_lips_warn_on_a_greyscale_photo(tmp_path, name, parted):
    """A greyscale copy of donilon (lips closed) warned "mouth is open at rest (lip gap 0.21
    ...)": without colour its pressed lips are one dark band, which the face mesh read as
    parted in the bust crop only. The gap is the smaller of the photo's and the crop's readings;
    the smiles with teeth (astronaut, obama) still warn in greyscale."""
    from PIL import Image

    from bench.portraits import load
    path = tmp_path / f"{name}.jpg"
    Image.fromarray(load(name)).convert("L").save(path, quality=90)
    p = analyse_portrait(path)
    assert p.mouth_open is parted
    assert any("mouth is open at rest" in w for w in p.warnings) is parted, p.warnings


def test_no_face(astronaut):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with pytest.raises(FaceNotFoundError, match="no face found"):
        analyse_portrait(noise)


def test_face_too_small_names_minimum(astronaut):
    import cv2
    small = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)  # face ~36 px
    with pytest.raises(FaceTooSmallError, match="expected at least 64 px"):
        analyse_portrait(small)


def _two_faces(astronaut, scale=0.75):
    import cv2
    head = astronaut[20:240, 130:320]
    canvas = np.full((300, 512, 3), 180, np.uint8)
    canvas[40:260, 20:210] = head
    small = cv2.resize(head, None, fx=scale, fy=scale)
    canvas[40:40 + small.shape[0], 280:280 + small.shape[1]] = small
    return canvas


def test_several_faces_largest_by_default_flag_picks_another(astronaut):
    img = _two_faces(astronaut)
    p0 = analyse_portrait(img, PortraitConfig(size=256, min_face_px=40))
    assert p0.num_faces == 2 and any("2 faces found" in w for w in p0.warnings)
    assert p0.crop_box[0] < 150  # the big face is on the left
    p1 = analyse_portrait(img, PortraitConfig(size=256, min_face_px=40, face_index=1))
    assert p1.crop_box[2] > 300  # the other one is on the right
    with pytest.raises(FaceNotFoundError, match="face index 5"):
        analyse_portrait(img, PortraitConfig(size=256, min_face_px=40, face_index=5))


def test_uncropped_keeps_aspect(astronaut):
    p = analyse_portrait(astronaut[:, :400], PortraitConfig(size=256, crop=False))
    assert p.image.shape[1] == 256 and p.crop_box == (0, 0, 400, 512)
