"""Integration tests of the AWS adapters against a local moto server."""
