"""What the worker side and the process side agree on, with no IO of its own: frames, close
codes, the interaction's shape, the template's configuration, the control requests.

Both halves import this; it imports neither (no anyio, no asyncio, no sqlite, no htag).
"""
