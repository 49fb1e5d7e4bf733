"""Upgrade eligibility of a fleet: per cluster its train, the triggers that make the operator start an
upgrade, the target, and the flag of applications that must move together (pure: no Airflow, no I/O, no clock).

Source: DOMAIN.md §6 (release train; the operator starts an upgrade only for (1) a security problem
needing an upgrade or COP, (2) a release below n-1 or nearing EOL, (3) a partner's TAC request) and §1
(the SME cluster's windows follow its publishing region). Every rule comes from ``di_ops.rules``.

Defaults that interpret the source are set in ``include/config/upgrades.yaml``: which trains count as
"below n-1" (n-2 and unsupported), which advisory severities are a "severe security issue" (critical:
an emergency change), which applications move together (CUCM, IMP, CUCxN). Choices made here: an
advisory's bare cycle ("14.0") covers every SU of it and a version at or above ``fixed_in`` is not
affected; a cluster whose group companions are upgraded to a later release moves with them, inheriting
an emergency (one window for the group).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from di_ops.rules.common import FrozenRecord, require_aware
from di_ops.rules.maintenance import effective_region
from di_ops.rules.releases import Eligibility, ReleaseCatalog, assess, parse_version

TriggerKind = Literal["security", "security_cop", "below_n1", "nearing_eol", "partner_request", "move_together"]


class Advisory(FrozenRecord):
    """One security advisory of the feed."""

    advisory_id: str = Field(min_length=1)
    application: str = Field(min_length=1)
    affected_versions: tuple[str, ...] = Field(min_length=1)  # "14.0 SU3"; a bare cycle "14.0" = every SU of it
    fixed_in: str | None = None
    remedy: Literal["upgrade", "COP"]
    published: datetime
    severity: str = "high"


class PartnerRequest(FrozenRecord):
    """A partner's upgrade request, from a TAC feature request."""

    request_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    cluster_id: str | None = None
    application: str | None = None
    target: str | None = None
    reason: str = Field(min_length=1)
    requested_at: datetime


class Trigger(FrozenRecord):
    kind: TriggerKind
    reason: str
    starts_upgrade: bool
    target: str | None = None
    emergency: bool = False


class Verdict(FrozenRecord):
    """Where one cluster stands and what the operator does about it."""

    customer_id: str
    cluster_id: str
    application: str
    region: str  # the customer's region
    window_region: str  # the region whose windows apply (SME: its publishing region)
    version: str
    eligibility: Eligibility
    triggers: tuple[Trigger, ...] = ()
    move_together: str | None = None  # why this cluster is flagged, when its group is split over releases
    target: str | None = None  # the release an operator-started upgrade goes to
    emergency: bool = False

    @property
    def upgrade(self) -> bool:
        """True when the operator must start an upgrade (a trigger that starts one, and a target)."""
        return self.target is not None and any(t.starts_upgrade for t in self.triggers)


# --- versions ---------------------------------------------------------------------------------


def version_key(version: str) -> tuple[int, int, int, str] | None:
    """A sortable key of a version string (None when it is not a Collaboration Systems version)."""
    try:
        cycle, su = parse_version(version)
    except ValueError:
        return None
    major, minor = (int(p) for p in cycle.split("."))
    if su is None:
        return major, minor, 0, ""
    digits = "".join(ch for ch in su[2:] if ch.isdigit())
    letter = "".join(ch for ch in su[2:] if ch.isalpha())
    return major, minor, int(digits), letter.lower()


def is_newer(candidate: str, current: str) -> bool:
    """True when ``candidate`` is a later release than ``current`` (unreadable versions: differ as text)."""
    new, old = version_key(candidate), version_key(current)
    if new is None or old is None:
        return candidate.strip().casefold() != current.strip().casefold()
    return new > old


def _latest(targets: Iterable[str]) -> str | None:
    best: str | None = None
    for target in targets:
        if best is None or is_newer(target, best):
            best = target
    return best


def current_upgrade_target(catalog: ReleaseCatalog) -> str:
    """The upgrade target of the catalog: n's latest SU (DOMAIN.md §6 "upgrade to v15 SU2")."""
    newest = max(catalog.releases, key=lambda r: r.release_date)
    return f"{newest.release_cycle} {newest.latest}"


def _affects(advisory: Advisory, application: str, version: str) -> bool:
    if advisory.application.strip().casefold() != application.strip().casefold():
        return False
    key = version_key(version)
    if advisory.fixed_in is not None and key is not None:
        fixed = version_key(advisory.fixed_in)
        if fixed is not None and key >= fixed:
            return False
    for affected in advisory.affected_versions:
        wanted = version_key(affected)
        if wanted is None or key is None:
            if affected.strip().casefold() == version.strip().casefold():
                return True
            continue
        cycle_only = parse_version(affected)[1] is None
        if wanted[:2] == key[:2] and (cycle_only or wanted == key):
            return True
    return False


# --- triggers ---------------------------------------------------------------------------------


def _security_triggers(
    advisories: Sequence[Advisory],
    application: str,
    version: str,
    as_of: datetime,
    fallback_target: str | None,
    emergency_severities: frozenset[str],
) -> list[Trigger]:
    out = []
    for adv in advisories:
        if require_aware(adv.published, "published") > as_of or not _affects(adv, application, version):
            continue
        if adv.remedy == "COP":
            out.append(
                Trigger(
                    kind="security_cop",
                    reason=f"security advisory {adv.advisory_id} ({adv.severity}) is remedied by a COP file, "
                    "not an upgrade (COP pipeline)",
                    starts_upgrade=False,
                )
            )
            continue
        target = adv.fixed_in or fallback_target
        emergency = adv.severity.casefold() in emergency_severities
        out.append(
            Trigger(
                kind="security",
                reason=f"security advisory {adv.advisory_id} ({adv.severity}) needs an upgrade"
                + (f" to {adv.fixed_in} or later" if adv.fixed_in else "")
                + ("; severe: emergency change" if emergency else ""),
                starts_upgrade=target is not None,
                target=target,
                emergency=emergency,
            )
        )
    return out


def _request_triggers(
    requests: Sequence[PartnerRequest], cluster: Mapping[str, Any], as_of: datetime, catalog_target: str
) -> list[Trigger]:
    out = []
    for req in requests:
        if req.customer_id != cluster["customer_id"] or require_aware(req.requested_at, "requested_at") > as_of:
            continue
        if req.cluster_id is not None and req.cluster_id != cluster["cluster_id"]:
            continue
        if req.application is not None and req.application.casefold() != str(cluster["application"]).casefold():
            continue
        target = req.target or catalog_target
        if not is_newer(target, cluster["version"]):
            out.append(
                Trigger(
                    kind="partner_request",
                    reason=f"partner request {req.request_id}: already on {cluster['version']}, "
                    f"not below the requested {target}",
                    starts_upgrade=False,
                )
            )
            continue
        out.append(
            Trigger(
                kind="partner_request",
                reason=f"partner request {req.request_id} (TAC): {req.reason}; target {target}",
                starts_upgrade=True,
                target=target,
            )
        )
    return out


def _release_triggers(
    cluster: Mapping[str, Any],
    elig: Eligibility,
    catalog: ReleaseCatalog,
    as_of: datetime,
    start_trains: frozenset[str],
) -> list[Trigger]:
    out = []
    if elig.train in start_trains and elig.upgrade_target is not None:
        out.append(
            Trigger(
                kind="below_n1",
                reason=f"{elig.release} is {elig.train}: below n-1; upgrade to {elig.upgrade_target}",
                starts_upgrade=True,
                target=elig.upgrade_target,
            )
        )
    # the library adds the nearing-EOL reason only when given as_of: the difference is that reason
    timeless = assess(cluster["version"], application=cluster["application"], catalog=catalog)
    eol_reasons = [r for r in elig.reasons if r not in timeless.reasons]
    if eol_reasons:
        out.append(
            Trigger(
                kind="nearing_eol",
                reason="; ".join(eol_reasons),
                starts_upgrade=elig.upgrade_target is not None,
                target=elig.upgrade_target,
            )
        )
    return out


def _eligibility(cluster: Mapping[str, Any], catalog: ReleaseCatalog, as_of: datetime) -> Eligibility:
    try:
        return assess(cluster["version"], application=cluster["application"], catalog=catalog, as_of=as_of)
    except ValueError as exc:  # an unreadable version is reported, never guessed
        return Eligibility(train="not assessed", release=None, may_stay=True, upgrade_target=None, reasons=[str(exc)])


def _groups(verdicts: list[Verdict], groups: Sequence[Sequence[str]]) -> list[tuple[str, list[Verdict]]]:
    """Every (customer, move-together group) with at least two clusters: (customer id, its clusters)."""
    by_customer: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_customer.setdefault(v.customer_id, []).append(v)
    out = []
    for customer_id, members in by_customer.items():
        for group in groups:
            names = {a.casefold() for a in group}
            in_group = [v for v in members if v.application.casefold() in names]
            if len(in_group) > 1:
                out.append((customer_id, in_group))
    return out


def _move_together(verdicts: list[Verdict], groups: Sequence[Sequence[str]]) -> dict[str, dict[str, Any]]:
    """cluster_id -> changes: the flag of a group split over releases, and the move_together trigger of a
    cluster whose group companions are upgraded to a later release than its own, or to the same one as an
    emergency change (same window: the lead's emergency flag is inherited)."""
    changes: dict[str, dict[str, Any]] = {}
    for customer_id, members in _groups(verdicts, groups):
        names = ", ".join(dict.fromkeys(m.application for m in members))
        releases = {v.eligibility.release or v.version for v in members}
        if len(releases) > 1:
            shown = ", ".join(f"{v.application} {v.eligibility.release or v.version}" for v in members)
            reason = f"{customer_id}: {shown} differ; {names} must be on one Collaboration Systems release"
            for v in members:
                changes.setdefault(v.cluster_id, {})["move_together"] = reason
        leads = [m for m in members if m.upgrade and m.target is not None]
        lead_target = _latest(m.target for m in leads if m.target is not None)
        if lead_target is None:
            continue
        for v in members:
            others = [m for m in leads if m.cluster_id != v.cluster_id]
            emergency = any(m.emergency for m in others)
            if v in leads and v.target == lead_target and (v.emergency or not emergency):
                continue
            if not is_newer(lead_target, v.version):
                continue
            trigger = Trigger(
                kind="move_together",
                reason=f"moves together with {', '.join(m.cluster_id for m in others)} to {lead_target}"
                + (" (emergency change)" if emergency else ""),
                starts_upgrade=True,
                target=lead_target,
                emergency=emergency,
            )
            changes.setdefault(v.cluster_id, {}).update(
                {"triggers": (*v.triggers, trigger), "target": lead_target, "emergency": v.emergency or emergency}
            )
    return changes


def assess_fleet(
    customers: Iterable[Mapping[str, Any]],
    clusters: Iterable[Mapping[str, Any]],
    *,
    advisories: Sequence[Advisory] = (),
    requests: Sequence[PartnerRequest] = (),
    as_of: datetime,
    catalog: ReleaseCatalog,
    start_trains: Iterable[str] = ("n-2", "unsupported"),
    emergency_severities: Iterable[str] = ("critical",),
    move_together: Sequence[Sequence[str]] = (),
    memoise: bool = True,
) -> list[Verdict]:
    """One verdict per cluster (ordered by customer, cluster): train, triggers, target, emergency, move-together flag.

    Source: DOMAIN.md §6 (the three reasons the operator starts an upgrade) and §1 (SME windows).
    """
    as_of = require_aware(as_of, "as_of").astimezone(UTC)
    regions = {c["customer_id"]: c["region"] for c in customers}
    catalog_target = current_upgrade_target(catalog)
    starts = frozenset(start_trains)
    severe = frozenset(s.casefold() for s in emergency_severities)
    # eligibility and advisory/release triggers depend only on (application, version): a fleet has few
    # distinct pairs, so they are computed once per pair (``memoise=False`` is the per-cluster baseline)
    by_release: dict[tuple[str, str], tuple[Eligibility, list[Trigger]]] = {}
    verdicts: list[Verdict] = []
    for cluster in sorted(clusters, key=lambda c: (c["customer_id"], c["cluster_id"])):
        region = regions[cluster["customer_id"]]
        sme_region = cluster.get("sme_publishing_region") if cluster["application"] == "SME" else None
        key = (cluster["application"], cluster["version"])
        known = by_release.get(key) if memoise else None
        if known is None:
            elig = _eligibility(cluster, catalog, as_of)
            fallback = elig.upgrade_target or (
                catalog_target if elig.train not in {"not assessed", "unknown"} else None
            )
            known = (
                elig,
                [
                    *_security_triggers(advisories, key[0], key[1], as_of, fallback, severe),
                    *(_release_triggers(cluster, elig, catalog, as_of, starts) if elig.train != "not assessed" else []),
                ],
            )
            by_release[key] = known
        elig = known[0]
        triggers = [*known[1], *_request_triggers(requests, cluster, as_of, catalog_target)]
        starting = [t for t in triggers if t.starts_upgrade and t.target is not None]
        verdicts.append(
            Verdict(
                customer_id=cluster["customer_id"],
                cluster_id=cluster["cluster_id"],
                application=cluster["application"],
                region=region,
                window_region=effective_region(region, sme_region or None),
                version=cluster["version"],
                eligibility=elig,
                triggers=tuple(triggers),
                target=_latest(t.target for t in starting if t.target is not None),
                emergency=any(t.emergency for t in starting),
            )
        )
    changes = _move_together(verdicts, move_together)
    return [v.model_copy(update=changes[v.cluster_id]) if v.cluster_id in changes else v for v in verdicts]
