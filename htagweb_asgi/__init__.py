"""htagweb-asgi: a production web host for htag v1 Apps, one OS process per user, pure ASGI3."""

from .appref import AppImportError
from .dispatch import Dispatcher
from .host import HtagASGI
from .options import AppOptions, Limits, TemplateSettings

__all__ = ["AppImportError", "AppOptions", "Dispatcher", "HtagASGI", "Limits", "TemplateSettings"]
__version__ = "0.1.0"
