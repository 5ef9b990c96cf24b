"""application.handlers."""
