"""vasa_bridge: one portrait plus speech becomes a live talking face, published over ZeroMQ."""

__version__ = "0.1.0"
