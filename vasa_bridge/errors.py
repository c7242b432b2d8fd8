"""Specific exceptions, and two helpers for their messages. Each message names the value
received and the value expected.

The CLI turns any `VasaError` into one line on stderr and exit code 2.
"""


class VasaError(Exception):
    """Base class of every error vasa_bridge raises on purpose."""


class MotionFormatError(VasaError, ValueError):
    """A motion frame, track or file does not follow the motion contract."""


class ProtocolError(VasaError, ValueError):
    """A wire message could not be decoded (malformed, wrong size, wrong types)."""


class VersionError(ProtocolError):
    """A wire message carries a protocol major version this build does not speak."""


class MessageTooLarge(ProtocolError):
    """A wire message is larger than the configured cap."""


class ControlError(VasaError):
    """A control request was refused, or a control reply reported an error."""


class BusyError(VasaError):
    """A request would pass a limit on queued work (audio queued, requests in progress); the
    control channel answers it with code `busy`. Retrying later can succeed."""


class TransportError(VasaError):
    """A socket could not be bound or connected, or was used out of order."""


class ConfigError(VasaError, ValueError):
    """A configuration value is out of range or inconsistent."""


class ImageReadError(VasaError, ValueError):
    """A portrait file could not be read or decoded as an image."""


class FaceNotFoundError(VasaError, ValueError):
    """No face was found in a portrait (or the face asked for does not exist)."""


class FaceTooSmallError(VasaError, ValueError):
    """The face in a portrait is too small to animate."""


class RenderError(VasaError, ValueError):
    """A render request is inconsistent (size, state, output format)."""


class AudioError(VasaError, ValueError):
    """Audio that cannot be turned into features: empty, non-finite, wrong rate, unreadable file."""


class ModelError(VasaError):
    """A model checkpoint or export is missing, inconsistent, or used out of order."""


class DataError(VasaError, ValueError):
    """A dataset, phoneme timeline, speech engine or alignment input is unusable."""


class EngineUnavailable(DataError):
    """A speech engine (or one of its voices) is not installed on this machine."""


def not_a_file(path) -> str:
    """Why `path`, which is no file, cannot be read: "is a folder" or "does not exist" (for
    messages such as f"portrait {path!r} {not_a_file(path)}: expected an image file")."""
    from pathlib import Path
    return "is a folder" if Path(path).is_dir() else "does not exist"


def check_writable(folder, error: type = ConfigError) -> None:
    """Refuse (with `error`) an existing output folder this user cannot write into, before any
    work is done for it."""
    import os
    if not os.access(folder, os.W_OK | os.X_OK):
        raise error(f"output folder {str(folder)!r} is not writable: expected a folder you can "
                    f"write to")
