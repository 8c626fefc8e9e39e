"""The worker side: the ASGI application, its endpoints and the relays to user processes.

Runs in every server worker, under asyncio or trio (anyio). Never imports ``proc/`` or htag:
a worker reaches the user processes through sockets only.
"""
