"""ZeroMQ transport: the publisher, the subscriber and the control channel."""

from .control import ControlClient, ControlConfig, ControlServer
from .endpoints import DEFAULT_CONTROL, DEFAULT_PUB
from .publisher import Publisher, PublisherConfig
from .subscriber import Subscriber, SubscriberConfig

__all__ = ["ControlClient", "ControlConfig", "ControlServer", "DEFAULT_CONTROL", "DEFAULT_PUB",
           "Publisher", "PublisherConfig", "Subscriber", "SubscriberConfig"]
