"""The district's playbook, barriers and partners (district administrators)."""

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied
from django.db import transaction

from homeroom.access.cases import (
    edits_district_playbook,
)
from homeroom.core.actions import do_log_district_change
from homeroom.core.models import District, School
from homeroom.core.selectors import district_today
from homeroom.interventions.actions.common import (
    _changed_at_version,
    _check,
    _invalid,
    _text,
    _today,
)
from homeroom.interventions.models import (
    Barrier,
    InterventionType,
    Partner,
    SisInterventionMapping,
)
from homeroom.interventions.playbook import (
    Playbook,
    PlaybookError,
    default_playbook,
    read_playbook,
)
from homeroom.roster.models import Language


def _must_edit_playbook(user) -> None:
    if not edits_district_playbook(user):
        raise PermissionDenied("District administrators edit the playbook and partners.")


def _store_playbook(district: District, playbook: Playbook, *, retire_missing: bool, today) -> dict:
    """Create or update the playbook's entries by key; with `retire_missing`, retire the
    district's entries the playbook does not list (nothing is deleted)."""
    counts = {"created": 0, "updated": 0, "retired": 0}
    barriers = {b.key: b for b in Barrier.objects.filter(district=district)}
    for entry in playbook.barriers:
        fields = {"name": entry.name, "description": entry.description, "retired_on": None}
        barrier = barriers.get(entry.key)
        if barrier is None:
            barriers[entry.key] = Barrier.objects.create(district=district, key=entry.key, **fields)
            counts["created"] += 1
        elif any(getattr(barrier, k) != v for k, v in fields.items()):
            Barrier.objects.filter(pk=barrier.pk).update(**fields)
            counts["updated"] += 1
    types = {t.key: t for t in InterventionType.objects.filter(district=district)}
    for entry in playbook.interventions:
        fields = {
            "name": entry.name,
            "tier1": 1 in entry.tiers,
            "tier2": 2 in entry.tiers,
            "tier3": 3 in entry.tiers,
            "description": entry.description,
            "typical_weeks": entry.typical_weeks,
            "evidence": entry.evidence,
            "retired_on": None,
        }
        kind = types.get(entry.key)
        addressed = {barriers[key].pk for key in entry.barriers}
        if kind is None:
            kind = InterventionType.objects.create(district=district, key=entry.key, **fields)
            kind.barriers.set(addressed)
            counts["created"] += 1
        elif any(getattr(kind, k) != v for k, v in fields.items()) or addressed != set(
            kind.barriers.values_list("pk", flat=True)
        ):
            InterventionType.objects.filter(pk=kind.pk).update(**fields)
            kind.barriers.set(addressed)
            counts["updated"] += 1
    if retire_missing:
        listed = {e.key for e in playbook.interventions}
        retired = InterventionType.objects.filter(district=district, retired_on__isnull=True)
        counts["retired"] += retired.exclude(key__in=listed).update(retired_on=today)
        listed = {e.key for e in playbook.barriers}
        retired = Barrier.objects.filter(district=district, retired_on__isnull=True)
        counts["retired"] += retired.exclude(key__in=listed).update(retired_on=today)
    return counts


def do_install_defaults(district: District) -> dict[str, int]:
    """Install Homeroom's default barriers and playbook for a district, once: entries the
    district already holds (edited or retired) are left as they are. Safe to repeat."""
    playbook = default_playbook()
    held_barriers = set(Barrier.objects.filter(district=district).values_list("key", flat=True))
    held_types = set(
        InterventionType.objects.filter(district=district).values_list("key", flat=True)
    )
    missing = Playbook(
        barriers=[b for b in playbook.barriers if b.key not in held_barriers],
        interventions=[i for i in playbook.interventions if i.key not in held_types],
    )
    if not missing.barriers and not missing.interventions:
        return {"created": 0}
    # A default intervention may address a barrier the district already holds.
    known = held_barriers | {b.key for b in missing.barriers}
    missing = Playbook(
        barriers=missing.barriers,
        interventions=[
            type(i)(**{**i.__dict__, "barriers": tuple(b for b in i.barriers if b in known)})
            for i in missing.interventions
        ],
    )
    with transaction.atomic():
        counts = _store_playbook(
            district, missing, retire_missing=False, today=district_today(district)
        )
    return {"created": counts["created"]}


def do_import_playbook(user, *, text: str) -> dict[str, int]:
    """Replace the district's playbook by a TOML file's (docs/interventions.md): entries are
    created or updated by key, those the file leaves out are retired. `PlaybookError` (a
    `ValidationError` on "playbook") names the line and field of the first mistake."""
    _must_edit_playbook(user)
    try:
        playbook = read_playbook(text)
    except PlaybookError as error:
        raise _invalid("playbook", str(error)) from None
    with transaction.atomic():
        counts = _store_playbook(user.district, playbook, retire_missing=True, today=_today(user))
        do_log_district_change(user=user, subject="playbook", details={"imported": counts})
    return counts


def do_save_barrier(user, *, key: str, name: str, description: str = "") -> Barrier:
    """Add a barrier to the district's list, or rename one (by key); a retired one returns."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=120)
    description = _text(description, "description", errors, required=False)
    if not isinstance(key, str) or not key or not all(c.isalnum() or c in "-_" for c in key):
        errors["key"] = "Letters, digits, '-' or '_'."
    _check(errors)
    with transaction.atomic():
        barrier, _ = Barrier.objects.update_or_create(
            district=user.district,
            key=key,
            defaults={"name": name, "description": description, "retired_on": None},
        )
        do_log_district_change(user=user, subject=f"barrier {key}")
    return barrier


def do_map_sis_intervention(user, *, code: str, intervention_type_id: int | None) -> None:
    """Show an intervention code of the SIS as a playbook entry (None: remove the mapping, so
    the code is matched by key or name again). Only the mapping changes, never the SIS's
    records."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    code = _text(code, "code", errors, limit=60)
    kind = None
    if intervention_type_id is not None:
        kind = InterventionType.objects.filter(
            pk=intervention_type_id, district_id=user.district_id
        ).first()
        if kind is None:
            errors["intervention_type_id"] = "No such intervention in your district's playbook."
    _check(errors)
    with transaction.atomic():
        if kind is None:
            SisInterventionMapping.objects.filter(district=user.district, code=code).delete()
        else:
            SisInterventionMapping.objects.update_or_create(
                district=user.district, code=code, defaults={"kind": kind}
            )
        do_log_district_change(
            user=user,
            subject=f"SIS intervention code {code}",
            details={"playbook_entry": kind.key if kind else None},
        )


def do_retire(user, *, entry: str, entry_id: int) -> None:
    """Retire a barrier, intervention type or partner: no longer offered, kept in history."""
    _must_edit_playbook(user)
    models = {"barrier": Barrier, "intervention_type": InterventionType, "partner": Partner}
    if entry not in models:
        raise _invalid("entry", f"Choose one of: {', '.join(models)}.")
    rows = models[entry].objects.filter(pk=entry_id, district_id=user.district_id)
    with transaction.atomic():
        if not rows.filter(retired_on__isnull=True).update(retired_on=_today(user)):
            raise _invalid("entry_id", "No such entry still offered in your district.")
        do_log_district_change(user=user, subject=f"{entry} {entry_id}", details={"retired": True})


def do_save_intervention_type(
    user,
    *,
    key: str,
    name: str,
    tiers: Sequence[int],
    barrier_ids: Sequence[int] = (),
    description: str = "",
    typical_weeks: int | None = None,
    evidence: str = "",
) -> InterventionType:
    """Add an intervention type to the district's playbook, or change one (by key)."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=120)
    if not isinstance(key, str) or not key or not all(c.isalnum() or c in "-_" for c in key):
        errors["key"] = "Letters, digits, '-' or '_'."
    if not tiers or any(isinstance(t, bool) or t not in (1, 2, 3) for t in tiers):
        errors["tiers"] = "Choose one or more of the tiers 1, 2, 3."
    addressed = Barrier.objects.filter(pk__in=list(barrier_ids), district_id=user.district_id)
    if addressed.count() != len(set(barrier_ids)):
        errors["barrier_ids"] = "No such barrier in your district's list."
    if typical_weeks is not None and (
        isinstance(typical_weeks, bool)
        or not isinstance(typical_weeks, int)
        or not 1 <= typical_weeks <= 52
    ):
        errors["typical_weeks"] = "A whole number of weeks from 1 to 52, or empty."
    description = _text(description, "description", errors, required=False)
    evidence = _text(evidence, "evidence", errors, required=False)
    _check(errors)
    with transaction.atomic():
        kind, _ = InterventionType.objects.update_or_create(
            district=user.district,
            key=key,
            defaults={
                "name": name,
                "tier1": 1 in tiers,
                "tier2": 2 in tiers,
                "tier3": 3 in tiers,
                "description": description,
                "typical_weeks": typical_weeks,
                "evidence": evidence,
                "retired_on": None,
            },
        )
        kind.barriers.set(addressed)
        do_log_district_change(user=user, subject=f"intervention type {key}")
    return kind


def do_save_partner(
    user,
    *,
    name: str,
    partner_id: int | None = None,
    version: int | None = None,
    services: str = "",
    barrier_ids: Sequence[int] = (),
    languages: Sequence[str] = (),
    contact_name: str = "",
    phone: str = "",
    email: str = "",
    capacity: int | None = None,
    school_ids: Sequence[int] = (),
) -> Partner:
    """Add a partner to the district's directory (no `partner_id`), or change one at the
    `version` read."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=200)
    services = _text(services, "services", errors, required=False)
    contact_name = _text(contact_name, "contact_name", errors, required=False, limit=200)
    phone = _text(phone, "phone", errors, required=False, limit=30)
    email = _text(email, "email", errors, required=False, limit=254)
    if email and "@" not in email:
        errors["email"] = "Give an email address."
    unknown = sorted(set(languages) - set(Language.values))
    if unknown:
        errors["languages"] = f"Unknown language code(s): {', '.join(unknown)}."
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
    ):
        errors["capacity"] = "A whole number, 1 or more, or empty for no limit."
    barriers = Barrier.objects.filter(pk__in=list(barrier_ids), district_id=user.district_id)
    if barriers.count() != len(set(barrier_ids)):
        errors["barrier_ids"] = "No such barrier in your district's list."
    schools = School.objects.filter(pk__in=list(school_ids), district_id=user.district_id)
    if schools.count() != len(set(school_ids)):
        errors["school_ids"] = "No such school in your district."
    partner = None
    if partner_id is not None:
        partner = Partner.objects.filter(pk=partner_id, district_id=user.district_id).first()
        if partner is None:
            errors["partner_id"] = "No such partner in your district's directory."
    _check(errors)
    fields = {
        "name": name,
        "services": services,
        "languages": sorted(set(languages)),
        "contact_name": contact_name,
        "phone": phone,
        "email": email,
        "capacity": capacity,
    }
    with transaction.atomic():
        if partner is None:
            partner = Partner.objects.create(district=user.district, **fields)
        else:
            _changed_at_version(Partner, partner.pk, version, "partner", **fields)
            partner.refresh_from_db()
        partner.barriers.set(barriers)
        partner.schools.set(schools)
        do_log_district_change(user=user, subject=f"partner {partner.pk}")
    return partner
