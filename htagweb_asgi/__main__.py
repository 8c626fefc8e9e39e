"""``python -m htagweb_asgi``: see cli.py."""

from htagweb_asgi.cli import main

if __name__ == "__main__":
    main()
