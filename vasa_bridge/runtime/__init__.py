"""Runtime stages: the live loop and its outputs."""
