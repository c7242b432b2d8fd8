"""`vasa-bridge demo`: replay the built-in track into a listener in this process, so the wire is
seen working end to end."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from .common import stop_on_signals


def add_cli(subparsers) -> argparse.ArgumentParser:
    d = subparsers.add_parser("demo", help="replay the built-in track into a listener, in one "
                                           "process")
    d.add_argument("--pub", default="tcp://127.0.0.1:*", help="endpoint (default: a free port)")
    d.set_defaults(func=run)
    return d


def run(args: argparse.Namespace) -> int:
    from ..motion.io import load
    from ..transport.replay import ReplayConfig, capabilities, replay
    from ..samples import example_track_path
    from ..transport import Publisher, PublisherConfig
    from ..transport.listen import ListenConfig, listen
    from ..transport.subscriber import SubscriberConfig

    track = load(example_track_path())
    stop = stop_on_signals()
    with Publisher(PublisherConfig(endpoint=args.pub, capabilities=capabilities(track))) as pub:
        sub = SubscriberConfig(endpoint=pub.endpoint, kinds=("motion", "event"))
        results: dict = {}
        t = threading.Thread(target=lambda: results.update(
            listen(sub, ListenConfig(idle_timeout_s=2.0), stop=stop)), daemon=True)
        t.start()
        stop.wait(0.5)  # let the subscriber connect before the first frame
        print(f"[demo] replaying the built-in track ({len(track)} frames at {track.fps:g} fps) "
              f"on {pub.endpoint}", file=sys.stderr, flush=True)
        replay(track, pub, ReplayConfig(), stop=stop)
        t.join()
    print("[demo] " + json.dumps(results), file=sys.stderr)
    return 0 if results.get("received", {}).get("motion") == len(track) else 1
