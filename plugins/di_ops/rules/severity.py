"""Impact, urgency and the severity matrix of TAC cases.

Source: DOMAIN.md §7. The impact boundaries are settings
(``include/config/policy.yaml`` → ``sla.impact``); the matrix itself is the
table of the source, kept here as data.

Names are case-insensitive and surrounding blanks are ignored; the Dutch labels
of the source are accepted beside the English ones. Results are always the
canonical English names ("Widespread", …, "Critical", …, "S1" … "S4").
"""

from __future__ import annotations

import math
import re
from typing import Final

from di_ops.core.settings import ImpactBoundaries, policy

IMPACTS: Final[tuple[str, ...]] = ("Widespread", "Large", "Localized", "Personalized")
URGENCIES: Final[tuple[str, ...]] = ("Critical", "High", "Medium", "Low")
SEVERITIES: Final[tuple[str, ...]] = ("S1", "S2", "S3", "S4")

# Dutch labels of the source (seed text) → canonical English names.
_IMPACT_ALIASES: Final[dict[str, str]] = {
    **{name.lower(): name for name in IMPACTS},
    "localised": "Localized",
    "personalised": "Personalized",
    "wijdverbreid": "Widespread",
    "groot": "Large",
    "gelokaliseerd": "Localized",
    "gepersonaliseerd": "Personalized",
}
_URGENCY_ALIASES: Final[dict[str, str]] = {
    **{name.lower(): name for name in URGENCIES},
    "kritiek": "Critical",
    "hoog": "High",
    "gemiddeld": "Medium",
    "laag": "Low",
}
_DUTCH_IMPACTS: Final[tuple[str, ...]] = ("Wijdverbreid", "Groot", "Gelokaliseerd", "Gepersonaliseerd")
_DUTCH_URGENCIES: Final[tuple[str, ...]] = ("Kritiek", "Hoog", "Gemiddeld", "Laag")

# DOMAIN.md §7 severity matrix: urgency → impact → severity.
SEVERITY_MATRIX: Final[dict[str, dict[str, str]]] = {
    "Critical": {"Widespread": "S1", "Large": "S1", "Localized": "S2", "Personalized": "S3"},
    "High": {"Widespread": "S1", "Large": "S2", "Localized": "S2", "Personalized": "S3"},
    "Medium": {"Widespread": "S2", "Large": "S3", "Localized": "S3", "Personalized": "S3"},
    "Low": {"Widespread": "S4", "Large": "S4", "Localized": "S4", "Personalized": "S4"},
}

# "S1", "s1", "1", "Sev 1", "sev-1", "Severity 1", "Ernst 1" (Dutch), "S 1".
_SEVERITY_PATTERN: Final[re.Pattern[str]] = re.compile(r"^(?:s|sev|severity|ernst)?[\s\-_]*([1-4])$", re.IGNORECASE)


def _lookup(value: object, aliases: dict[str, str], kind: str, accepted: tuple[str, ...]) -> str:
    if isinstance(value, str):
        found = aliases.get(value.strip().lower())
        if found is not None:
            return found
    raise ValueError(f"unknown {kind} {value!r}; accepted: {', '.join(accepted)} (case-insensitive)")


def normalise_impact(impact: str) -> str:
    """Canonical impact name for an English or Dutch label; ValueError names the accepted ones.

    Source: DOMAIN.md §7 (impact classes), seed text for the Dutch labels.
    """
    return _lookup(impact, _IMPACT_ALIASES, "impact", IMPACTS + _DUTCH_IMPACTS)


def normalise_urgency(urgency: str) -> str:
    """Canonical urgency name for an English or Dutch label; ValueError names the accepted ones.

    Source: DOMAIN.md §7 (urgency classes), seed text for the Dutch labels.
    """
    return _lookup(urgency, _URGENCY_ALIASES, "urgency", URGENCIES + _DUTCH_URGENCIES)


def normalise_severity(severity: str) -> str:
    """Canonical severity ("S1".."S4") for "S1", "s1", "1", "Sev 1", "Severity 1" or "Ernst 1".

    Unknown values raise ValueError naming the accepted ones. Source: DOMAIN.md §7.
    """
    if isinstance(severity, str):
        match = _SEVERITY_PATTERN.match(severity.strip())
        if match is not None:
            return f"S{match.group(1)}"
    raise ValueError(
        f"unknown severity {severity!r}; accepted: {', '.join(SEVERITIES)} "
        "(case-insensitive; also '1'..'4', 'Sev 1', 'Severity 1', 'Ernst 1')"
    )


def impact_for_share(share: float, *, boundaries: ImpactBoundaries | None = None) -> str:
    """Impact class of the share (0.0..1.0) of the partner's environment affected.

    Widespread when share > 0.75; Large when 0.50 ≤ share ≤ 0.75; Localized when
    0.25 ≤ share < 0.50; Personalized below 0.25 (boundaries from
    ``policy.sla.impact``; the default reading of the source puts exactly 75 %
    and 50 % in Large and exactly 25 % in Localized). A share outside [0, 1],
    NaN, or a non-number raises ValueError.

    Source: DOMAIN.md §7 (impact).
    """
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ValueError(f"share must be a number in [0, 1], got {share!r}")
    if math.isnan(share) or not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share!r}")
    limits = boundaries if boundaries is not None else policy().sla.impact
    if share > limits.widespread_above:
        return "Widespread"
    if share >= limits.large_from:
        return "Large"
    if share >= limits.localized_from:
        return "Localized"
    return "Personalized"


def severity_for(impact: str, urgency: str) -> str:
    """Severity "S1".."S4" of an impact and an urgency, per the matrix of the source.

    Both names are case-insensitive, English or Dutch; an unknown name raises
    ValueError naming the bad value and the accepted ones.

    Source: DOMAIN.md §7 (severity matrix).
    """
    return SEVERITY_MATRIX[normalise_urgency(urgency)][normalise_impact(impact)]
