"""Integration tests: real adapters, real sockets."""
