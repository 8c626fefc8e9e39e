"""How much each scenario does: the issue's sizes, and the tiny ones of ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    seq_users: int = 20  # 1. new users one after the other
    conc_users: int = 50  # 1. new users, `concurrency` at a time
    concurrency: int = 10
    more_concurrency: tuple[int, ...] = (3, 20)  # 1. also these, for the picture (conc_users each)
    waves: int = 5  # 2. waves of `arrivals` users arriving at once...
    arrivals: int = 10
    click_interval: float = 0.005  # ...while the connected user clicks (pause between clicks)
    single_clicks: int = 500  # 3. one user
    multi_users: int = 50  # 3. users clicking at once (concurrency = users)
    multi_clicks: int = 100
    push_rounds: int = 20  # 4. rounds of 3 pushes
    unsupported_push_rounds: int = 3  # 4. rounds tried where update() is known not to push
    push_wait: float = 1.0  # 4. seconds to wait for each push
    sweep_sizes: tuple[int, ...] = (10, 100, 1000)  # 6. live users
    sweep_few: int = 10  # 6. clicking users, the same at every size (flatness)...
    sweep_active: int = 50  # 6. ...then this many (all of them when fewer)
    sweep_clicks: int = 40  # 6. clicks per active user at each size
    sweep_bound: float = 90.0  # 6. seconds allowed to grow to the next size; else stop there
    flood_seconds: float = 30.0  # 7. how long one address floods
    flood_rate: float = 100.0  # 7. its page loads per second (fixed rate)...
    flood_concurrency: int = 20  # 7. ...at most this many at a time
    flood_click_every: float = 8.0  # 7. flood_ws: each of its pages clicks this often
    flood_arrive_every: float = 1.0  # 7. a new legitimate user this often meanwhile
    flood_sample_every: float = 2.0  # 7. seconds between two counts of the processes
    flood_after: float = 45.0  # 7. the processes counted again this long after the flood


FULL = Sizes()
QUICK = Sizes(
    seq_users=3,
    conc_users=4,
    concurrency=2,
    more_concurrency=(3,),
    waves=1,
    arrivals=2,
    single_clicks=20,
    multi_users=3,
    multi_clicks=10,
    push_rounds=2,
    unsupported_push_rounds=1,
    # CI's smoke must fail on a lost push or a size never reached, not on a slow machine:
    # generous waits (a push that arrives is read at once; nothing waits them out)
    push_wait=10.0,
    sweep_sizes=(2, 4),
    sweep_few=1,
    sweep_active=2,
    sweep_clicks=5,
    sweep_bound=60.0,
    flood_seconds=2.0,
    flood_rate=20.0,
    flood_concurrency=5,
    flood_click_every=0.5,
    flood_arrive_every=0.5,
    flood_sample_every=0.5,
    flood_after=1.0,
)
