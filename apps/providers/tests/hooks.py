"""Wake-up hooks for tests, set through PROVIDER_WAKE_UP_HOOK as a deployment would set a real one."""

WOKEN: list[list[int]] = []


def record(provider_ids: list[int]) -> None:
    WOKEN.append(sorted(provider_ids))


def fail(provider_ids: list[int]) -> None:
    raise ConnectionError("push channel down")
