"""A web worker's long-lived objects, kept out of the garbage collector's full walks.

What a worker loads at start-up (Django, every app, the URLconf and all it imports: about 175,000 tracked objects)
lives as long as the process, yet CPython's full (generation 2) collection walks every one of them each time it runs.
A request that allocates a lot — a bulk send of 1,000 recipients builds a few hundred thousand objects — sets one off
every few requests: 12–25 ms each, 10–15% of the bulk request's CPU, measured with `benchmarks/send_cpu.py`.
`gc.freeze()` moves the objects alive at that moment into a permanent generation the collector no longer walks (what
Instagram did for its Django workers); garbage made afterwards is found and freed exactly as before. The cost: a
reference cycle among the frozen objects that becomes garbage later is never freed — start-up objects live for the
whole process anyway.
"""

import gc


def freeze_startup_objects() -> None:
    """Load what every request needs, collect what start-up left behind, and freeze the rest. Call once per process,
    after Django is set up (gunicorn: `post_worker_init`)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the URLconf and every view it imports, now rather than at the first request
    gc.collect()
    gc.freeze()
