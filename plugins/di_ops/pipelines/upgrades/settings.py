"""Settings of the upgrade eligibility sweeps, from ``include/config/upgrades.yaml``.

Validated once (cached) with :func:`di_ops.core.settings.load_model`; a bad file fails with a
message naming the file and the field. Policy numbers stay in ``policy.yaml``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from di_ops.core.inventory import APPLICATIONS
from di_ops.core.settings import FrozenModel, config_dir, load_model, under_data_dir

FeedName = Literal["advisory_feed", "partner_requests"]


class UpgradeSettings(FrozenModel):
    schedule: str = Field(min_length=1)
    # upgrade_emergency_check: the daily look for emergency changes (DOMAIN.md §1/§2: an emergency may run
    # at once or in the next window, so a critical advisory may not wait for the weekly sweep).
    emergency_check_schedule: str = Field(default="0 7 * * *", min_length=1)
    # How long after an announced window closes the inventory may take to show an upgrade done in it
    # (inventory_sync runs hourly; an unchanged fleet keeps its older snapshot). After it, a window
    # without the target in the inventory is missed (DOMAIN.md §2).
    missed_grace_hours: float = Field(default=2, ge=0, le=72)
    advisory_feed: str = Field(min_length=1)
    partner_requests: str = Field(min_length=1)
    required_feeds: tuple[FeedName, ...] = ("advisory_feed",)
    reports_folder: str = Field(min_length=1)
    operator_start_trains: tuple[Literal["n", "n-1", "n-2", "unsupported"], ...]
    emergency_severities: tuple[str, ...] = ()
    move_together: tuple[tuple[str, ...], ...] = ()
    organizer: str = Field(min_length=3)
    # upgrade_reschedule's "Requested at" (as_of) may lie at most this long before the run (a partner's
    # mail handled the next morning), never before the notice and never after the run (beyond clock skew):
    # a back-dated request would dodge the 7-day rule (DOMAIN.md §2).
    reschedule_max_backdate_hours: float = Field(default=24, ge=0, le=24 * 14)
    reschedule_clock_skew_minutes: float = Field(default=5, ge=0, le=60)

    @field_validator("move_together")
    @classmethod
    def _known_applications(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        known = {a.casefold(): a for a in APPLICATIONS}
        out = []
        for group in value:
            unknown = [a for a in group if a.casefold() not in known]
            if unknown:
                raise ValueError(f"unknown applications {unknown}; known: {', '.join(APPLICATIONS)}")
            if len(group) < 2:
                raise ValueError(f"a move_together group needs at least two applications, got {list(group)}")
            out.append(tuple(known[a.casefold()] for a in group))
        return tuple(out)

    def path(self, name: str) -> Path:
        """A configured path (advisory_feed, partner_requests, reports_folder), absolute or under the data folder."""
        return under_data_dir(getattr(self, name))


@lru_cache(maxsize=1)
def upgrade_settings() -> UpgradeSettings:
    return load_model(UpgradeSettings, config_dir() / "upgrades.yaml")
