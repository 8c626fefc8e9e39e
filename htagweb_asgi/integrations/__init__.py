"""Glue for frameworks that need more than mounting an ASGI app."""
