"""A deterministic fuzz of the host: malformed headers, paths, queries, bodies and websocket
frames, sent on the wire by raw clients (tests/support/rawwire.py) to a real server.

- cases.py: what a case is, what the generators know of the server, the hostile atoms;
- headercases.py, httpcases.py, wirecases.py, wscases.py, payloads.py: the generators;
- plan.py: how many cases of each family, from one seed, in one shuffled order;
- sessions.py: the fuzzing sessions' pages, loaded first;
- runner.py: sends the cases with bounded concurrency and says what went wrong;
- serverlog.py: reads the server's log for tracebacks and errors of the package.
"""
