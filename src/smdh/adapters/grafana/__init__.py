"""adapters.grafana."""
