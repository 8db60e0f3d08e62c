"""A web worker's long-lived objects, kept out of the garbage collector's full walks.

What a worker loads at start-up (Django, every app, the URLconf and all it imports: about 175,000 tracked objects)
lives as long as the process, yet CPython's full (generation 2) collection walks every one of them each time it runs.
A request that allocates a lot — a bulk send of 1,000 recipients builds a few hundred thousand objects — sets one off
every few requests: 12–25 ms each, 10–15% of the bulk request's CPU, measured with `benchmarks/send_cpu.py`.
`gc.freeze()` moves the objects alive at that moment into a permanent generation the collector no longer walks (what
Instagram did for its Django workers); garbage made afterwards is found and freed exactly as before. The cost: a
reference cycle among the frozen objects that becomes garbage later is never freed — start-up objects live for the
whole process anyway.

The youngest generation is also collected less often: after 10,000 net allocations rather than CPython's 700. A bulk
request's rows, answers and their parts are reference-counted garbage or live until the answer is sent, so its ~22
young collections and the 2 middle ones they set off (which walk every survivor) found almost nothing to free and
took ~7 ms of its ~120 ms of CPU; with the larger threshold about one young collection a request, ~3 ms (measured
with `gc.callbacks`; the request ~4 % cheaper, alternating the thresholds in one process). A cycle made garbage
waits at most 10,000 allocations for the young collection that frees it: a few MB at worst.
"""

import gc

# Net allocations of tracked objects between two collections of the youngest generation (CPython's default: 700);
# the older two keep their defaults (each collected after 10 collections of the one below).
YOUNG_THRESHOLD = 10_000


def freeze_startup_objects() -> None:
    """Load what every request needs, collect what start-up left behind, freeze the rest, and collect the youngest
    generation less often. Call once per process, after Django is set up (gunicorn: `post_worker_init`)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the URLconf and every view it imports, now rather than at the first request
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
