"""An App module that fails at import."""

raise RuntimeError("this module is broken on purpose")
