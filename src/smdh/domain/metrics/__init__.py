"""domain.metrics."""
