from htagweb_asgi.cli import main

main()
