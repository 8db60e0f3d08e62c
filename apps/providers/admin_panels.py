"""Sections other apps add to a provider's admin page (strikes, earnings, recent jobs).

Those figures live in apps above providers (delivery, incentives, messaging), which providers may not import; so
they register a builder here, as the privacy registry does, and the provider's change page shows what each returns.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.providers.models import Provider


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and, when it names a thing staff can open, the admin page of that thing."""

    text: Any
    url: str = ""


@dataclass(frozen=True)
class ProviderPanel:
    """A read-only table on the provider's page: a title, optional summary lines, then rows of cells."""

    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    summary: list[tuple[str, Any]] = field(default_factory=list)
    empty: str = ""


PanelBuilder = Callable[[Provider], ProviderPanel]
_builders: list[PanelBuilder] = []


def provider_panel_register(builder: PanelBuilder) -> None:
    """Add `builder` (called with the provider each time its page opens); registering twice is harmless."""
    if builder not in _builders:
        _builders.append(builder)


def provider_panels(provider: Provider) -> list[ProviderPanel]:
    """The panels of `provider`'s page, in the order the apps registered them."""
    return [builder(provider) for builder in _builders]
