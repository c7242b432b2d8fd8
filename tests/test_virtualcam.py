import numpy as np
import pytest

pyvirtualcam = pytest.importorskip("pyvirtualcam")

from vasa_bridge.outputs.virtualcam import VirtualCamSink, VirtualCameraError  # noqa: E402


class RecordingBackend:
    """A stand-in device registered with pyvirtualcam: it records what would reach the camera."""

    frames: list = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height = width, height
        RecordingBackend.frames = []

    def device(self):
        return "recording"

    def send(self, frame):
        RecordingBackend.frames.append(frame.copy())

    def close(self):
        pass


pyvirtualcam.register_backend("recording", RecordingBackend)


def test_frames_reach_the_camera_as_rgb():
    sink = VirtualCamSink(8, 4, 25, backend="recording")
    img = np.random.default_rng(0).integers(0, 256, (4, 8, 4), dtype=np.uint8)
    sink.send(img, 0)
    sink.close()
    assert len(RecordingBackend.frames) == 1
    np.testing.assert_array_equal(RecordingBackend.frames[0].reshape(4, 8, 3), img[..., :3])


def test_no_device_is_a_clear_error():
    # This machine has no /dev/video loopback device: the real backend refuses, and we say how
    # to get one. (Named explicitly: with none named, pyvirtualcam would try the stand-in too.)
    import os
    if any(n.startswith("video") for n in os.listdir("/dev")):
        pytest.skip("this machine has a video device")
    with pytest.raises(VirtualCameraError, match="no virtual camera could be opened .*modprobe "
                                                 "v4l2loopback"):
        VirtualCamSink(64, 64, 25, backend="v4l2loopback")
