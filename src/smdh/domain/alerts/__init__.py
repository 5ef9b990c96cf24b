"""domain.alerts."""
