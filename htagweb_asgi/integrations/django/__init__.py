"""Django: the App's session is Django's (``DjangoSessions``)."""
