"""Containers: OCI spec building, state, lifecycle."""
