"""The runtime: replay and serve, and the outputs they feed."""
