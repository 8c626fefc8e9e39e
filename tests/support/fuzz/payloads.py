"""Hostile interaction messages, as a page's script would send them and as it never would.

They start from a real click (on the counter's "say" button, which shows what it got) and
break it: not JSON, the wrong JSON, deep nesting, odd numbers, hostile method names, huge
or strange arguments and events, lone surrogates, sizes around the limits, parano-looking
envelopes. The App's own buttons that end or restructure it (exit, crash, slow, clear...)
are never named: the fuzzing session's process must live through the whole fuzz.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from tests.support.fuzz.cases import odd

# Names of methods a hostile page may ask for; none ends the App or rebuilds its tree.
METHODS: list[Any] = [
    None,
    "",
    "__on__",
    "__on_event__",
    "increment",
    "say",
    "fail",
    "start_pushes",
    "update",
    "find_tag",
    "_hr",
    "__class__",
    "__init__",
    "__dict__",
    "__reduce__",
    "_callbacks_",
    "on",
    "1x",
    "a.b",
    "say ",
    "é",
    "x" * 1000,
    1,
    [],
    {},
    True,
]
DEPTHS = [10, 100, 400, 500, 900, 999, 1000, 1001, 3000, 20000]


def nested(depth: int, core: str = "1", opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + core + closer * depth
    return opener * depth + core + closer * depth


def _id(rng: random.Random, click: dict[str, Any]) -> Any:
    return rng.choice(
        [click["id"], 0, -1, 2**63, 2**64 + 1, 1.5, "1", None, True, [], {}, 10**5000 // 10**4700]
    )


def _value(rng: random.Random, depth_ok: bool = True) -> Any:
    """A JSON value that is odd in some way (decoded from odd bytes, or a structure)."""
    pick = rng.random()
    if pick < 0.4:
        return odd(rng, 4096).decode("latin-1")
    if pick < 0.55:
        return rng.choice(["x\ud800y", "\udfff", "\ud83d\ude00", "\x00", "é" * 100])
    if pick < 0.7:
        return rng.choice([1e308, -0.0, 2**70, -(2**63), 0.1, True, None])
    if pick < 0.85:
        return {odd(rng, 64).decode("latin-1"): odd(rng, 64).decode("latin-1")}
    return json.loads(nested(rng.choice([2, 50, 200]))) if depth_ok else []


def mutated(rng: random.Random, click: dict[str, Any]) -> dict[str, Any]:
    """The click with one to three of its fields broken."""
    message = json.loads(json.dumps(click))
    fields: list[Callable[[], None]] = [
        lambda: message.__setitem__("id", _id(rng, click)),
        lambda: message.__setitem__("method", rng.choice(METHODS)),
        lambda: message.__setitem__(
            "args", rng.choice([None, {}, "x", [_value(rng)], [_value(rng) for _ in range(50)]])
        ),
        lambda: message.__setitem__(
            "kargs",
            rng.choice([None, [], "x", {"self": 1}, {"a-b": 1}, {"": 2}, {"x\ud800": 3}]),
        ),
        lambda: message.__setitem__(
            "event",
            rng.choice(
                [
                    None,
                    [],
                    "x",
                    {"value": _value(rng)},
                    {"target": 1},
                    {"not an identifier": 1},
                    {f"k{i}": i for i in range(rng.choice([10, 300, 3000]))},
                ]
            ),
        ),
        lambda: message.pop(rng.choice(["id", "method", "args", "kargs", "event"]), None),
        lambda: message.__setitem__(odd(rng, 64).decode("latin-1"), _value(rng)),
    ]
    for change in rng.sample(fields, rng.randint(1, 3)):
        change()
    return message


def payload(rng: random.Random, click: dict[str, Any], limit: int) -> bytes:
    """One hostile message for an App whose message limit is `limit` bytes."""
    pick = rng.random()
    if pick < 0.45:
        return json.dumps(mutated(rng, click)).encode()
    if pick < 0.55:  # not JSON, or not the JSON of an object
        return rng.choice(
            [
                odd(rng, 4096),
                rng.randbytes(rng.randint(1, 200)),
                b"{",
                b'{"id": 1',
                b"\xef\xbb\xbf" + json.dumps(click).encode(),
                b'{"id": "\xff"}',
                b"[]",
                b"1",
                b'"x"',
                b"null",
                b'{"id": NaN}',
                b'{"id": Infinity, "id": 2}',
                b'{"id": 1' + b"1" * 5000 + b"}",
            ]
        )
    if pick < 0.7:  # deep nesting, alone or inside a field, with or without a lone surrogate
        depth = rng.choice(DEPTHS)
        core = rng.choice(["1", '"x"', '"\\ud800"', '"a\\udfffb"'])
        body = nested(depth, core, rng.choice(["[", "{"]))
        place = rng.choice(["alone", "args", "event", "kargs"])
        if place == "alone":
            return body.encode()
        wrapped = {
            "args": f"[{body}]",
            "event": f'{{"value": {body}}}',
            "kargs": f'{{"k": {body}}}',
        }
        base = dict(click, **{place: "@@"})
        return json.dumps(base).encode().replace(b'"@@"', wrapped[place].encode())
    if pick < 0.85:  # sizes around the limit: padded with spaces inside the JSON
        text = json.dumps(dict(click, event={"value": "probe"}))
        size = limit + rng.choice([-1, 0, 1, 2, -100, 1000])
        return (text[:-1] + " " * max(0, size - len(text)) + "}").encode()
    if pick < 0.95:  # lone surrogates where a browser's JSON.stringify may put them
        broken = dict(click, event={"value": rng.choice(["x\ud800y", "\udc00", "\ud800\ud800"])})
        return json.dumps(broken).encode()
    return envelope_like(rng)


def envelope_like(rng: random.Random) -> bytes:
    """Bytes shaped (or nearly) like parano's HELLO and SEALED envelopes."""
    kind = rng.choice([1, 2, 3, 0, 255])
    size = rng.choice([0, 1, 32, 33, 34, 40, 41, 42, 100, 5000])
    return bytes((kind,)) + rng.randbytes(size)
