import os
import threading

from vasa_bridge import native_log

CHATTER = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
           b"WARNING: All log messages before absl::InitializeLog() is called are written to "
           b"STDERR\n"
           b"W0000 00:00:1796341121.748643   11985 inference_feedback_manager.cc:114] Feedback "
           b"manager requires a model with a single signature inference.\n")


def test_native_chatter_is_held_back_and_the_rest_written_back(capfd):
    native_log.set_verbose(False)
    with native_log.quiet_native():
        os.write(2, CHATTER)
        os.write(2, b"E0000 00:00:1.0  1 graph.cc:9] a real error\nTraceback: something else\n")
        with native_log.quiet_native():  # re-entrant: the inner span does not restore early
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"still inside\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err.splitlines() == ["E0000 00:00:1.0  1 graph.cc:9] a real error",
                                "Traceback: something else", "still inside", "after"]


def test_spans_from_two_threads_share_one_redirect(capfd):
    native_log.set_verbose(False)
    inside, release = threading.Event(), threading.Event()

    def other():
        with native_log.quiet_native():
            inside.set()
            release.wait(5)
            os.write(2, CHATTER + b"from the other thread\n")

    t = threading.Thread(target=other)
    with native_log.quiet_native():
        t.start()
        inside.wait(5)
    release.set()  # the first span ended; the other's is still open
    t.join(5)
    assert capfd.readouterr().err.splitlines() == ["from the other thread"]


def test_verbose_lets_everything_through(capfd):
    native_log.set_verbose(True)
    try:
        with native_log.quiet_native():
            os.write(2, CHATTER)
    finally:
        native_log.set_verbose(False)
    assert capfd.readouterr().err.encode() == CHATTER
