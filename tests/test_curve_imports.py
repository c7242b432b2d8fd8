import subprocess
import sys


def test_curve_module_imports_what_its_zap_thread_needs():
    """A fresh interpreter: curve.py alone must bring what its ZAP authenticator needs (the
    hand-made ZAP thread it replaced died on the first client because only zmq.auth, imported
    elsewhere, loaded zmq.utils.z85)."""
    code = ("import sys, vasa_bridge.transport.curve as c; "
            "assert 'zmq.utils.z85' in sys.modules and 'zmq.auth.thread' in sys.modules; "
            "import zmq; pub, sec = zmq.curve_keypair(); print(c.zmq.utils.z85.decode(pub)[:1])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
