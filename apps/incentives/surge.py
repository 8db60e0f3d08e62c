"""The dynamic price multiplier per carrier and route, in basis points (10_000 = 1.0).

A flat 1.0 for now: dynamic pricing (supply and demand per carrier) replaces this function's body. Callers use it
rather than assuming 1.0, so that change needs no other edit."""


def route_multiplier_bp(*, carrier: str, route: str) -> int:
    return 10_000
