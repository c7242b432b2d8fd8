"""Wire protocol v1: see docs/protocol.md."""

from .wire import (DEFAULT_STREAM, KINDS, MAX_MESSAGE_BYTES, VERSION, Message, decode,
                   encode_audio, encode_event, encode_frame, encode_hello, encode_motion,
                   subscription, topic)

__all__ = ["DEFAULT_STREAM", "KINDS", "MAX_MESSAGE_BYTES", "VERSION", "Message", "decode",
           "encode_audio", "encode_event", "encode_frame", "encode_hello", "encode_motion",
           "subscription", "topic"]
