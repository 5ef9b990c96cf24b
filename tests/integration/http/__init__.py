"""The HTTP API on a real socket with real tokens."""
