"""Shared kernel: identifiers, errors, events and the event-sourced aggregate base."""
