"""The fuzz's cases: how many of each family, generated from one seed, in one shuffled order
(a deterministic mix: the same seed sends the same bytes in the same order)."""

from __future__ import annotations

import random

from tests.support.apps.fuzz_host import MAX_BODY, MAX_FRAME
from tests.support.fuzz import headercases, httpcases, wirecases, wscases
from tests.support.fuzz.cases import Context, HttpCase, WsCase

# Cases per family (a websocket case sends one to three frames, each an input): about
# 10,000 inputs. Page loads with hostile queries replace a process each: they are few.
COUNTS = {
    "header": 2400,
    "path": 1800,
    "query": 300,
    "body": 1600,
    "wire": 300,
    "handshake": 800,
    "frames": 1300,
    "parano": 200,
}


def plan(seed: int, ctx: Context, scale: float = 1.0) -> list[HttpCase | WsCase]:
    rng = random.Random(seed)
    count = {family: max(1, round(n * scale)) for family, n in COUNTS.items()}
    cases: list[HttpCase | WsCase] = []
    cases += headercases.header_cases(rng, ctx, count["header"])
    cases += httpcases.path_cases(rng, ctx, count["path"])
    cases += httpcases.query_cases(rng, ctx, count["query"])
    cases += httpcases.body_cases(rng, ctx, count["body"], [MAX_FRAME, MAX_BODY])
    cases += wirecases.wire_cases(rng, ctx, count["wire"])
    cases += wscases.handshake_cases(rng, ctx, count["handshake"])
    cases += wscases.frame_cases(rng, ctx, count["frames"], MAX_FRAME)
    cases += wscases.parano_cases(rng, ctx, count["parano"])
    rng.shuffle(cases)
    return cases
