"""Version of the fastapi-pro distribution."""

__version__ = "0.1.0.dev0"
