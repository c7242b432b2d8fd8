"""The control channel: msgpack request-reply on its own endpoint (docs/protocol.md, "Control").

`schema` checks requests (config, limits, parsing), `server` serves them to a handler,
`client` sends them.
"""

from .client import ControlClient
from .schema import (COMMANDS, FRAMINGS, PORTRAIT_FORMATS, PORTRAIT_SUFFIXES, SET_KEYS,
                     SLOW_COMMANDS, ControlConfig, RequestError, check_command,
                     check_image_bytes, check_msgpack_shape, check_portrait_path,
                     decode_request, parse_load_portrait, parse_set, parse_speak,
                     portrait_folders)
from .server import ControlServer, split_envelope

__all__ = ["COMMANDS", "FRAMINGS", "PORTRAIT_FORMATS", "PORTRAIT_SUFFIXES", "SET_KEYS",
           "SLOW_COMMANDS", "ControlClient", "ControlConfig", "ControlServer", "RequestError",
           "check_command", "check_image_bytes", "check_msgpack_shape", "check_portrait_path",
           "decode_request", "parse_load_portrait", "parse_set", "parse_speak",
           "portrait_folders", "split_envelope"]
