"""Cluster mode: several nodes behind a load balancer, coordinated through Redis.

Runs in the server workers, beside ``web/`` (never in the template or the user processes).
Redis holds the sessions (``sessions/redisstore.py``) and the registry of which node owns
which user process (``registry.py``); nodes reach each other's user processes over an
authenticated TCP link (``link.py``, ``gateway.py``, ``remote.py``) and tell each other to
end sessions over pub/sub with tombstones swept by each node's heartbeat (``bus.py``,
``node.py``). App state never leaves its process.
"""
