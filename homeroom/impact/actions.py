"""Writes of the impact app: what the district says an intervention costs (audited), and
the stored impact table (`do_refresh_impact`)."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from homeroom.accounts.models import Role
from homeroom.core.actions import CommandLine, do_log_district_change
from homeroom.core.models import AuditEntry, District
from homeroom.impact.models import ImpactEstimate, InterventionCost
from homeroom.impact.selectors import DEFAULT_WEEKS, district_impact

MAXIMUM_COST = Decimal("99999999.99")


def do_set_intervention_cost(
    user,
    *,
    district: District,
    key: str,
    cost: str | Decimal | None,
    note: str = "",
    via: CommandLine | None = None,
) -> InterventionCost | None:
    """Record the cost of serving one student with `key` (a row of the impact table), or
    remove it (`cost` None); audited in the same transaction. A user must be a district
    administrator of `district`; a command passes `via` and no user."""
    if user is not None and not (
        user.role == Role.DISTRICT_ADMIN and user.district_id == district.pk
    ):
        raise PermissionDenied("Only district administrators record intervention costs.")
    key = key.strip()
    if not key or len(key) > 80:
        raise ValidationError({"key": 'Name the row as the impact table keys it, e.g. "case".'})
    amount = None
    if cost is not None:
        try:
            amount = Decimal(str(cost).strip().lstrip("$").replace(",", ""))
        except InvalidOperation:
            raise ValidationError(
                {"cost": f"{cost!r} is not an amount; write e.g. 350 or 350.00."}
            ) from None
        if not amount.is_finite() or not 0 <= amount <= MAXIMUM_COST:
            raise ValidationError({"cost": "The cost must be from 0 to 99,999,999.99."})
        amount = amount.quantize(Decimal("0.01"))
    with transaction.atomic():
        held = InterventionCost.objects.filter(district=district, key=key).first()
        before = str(held.cost_per_student) if held else None
        if amount is None:
            if held:
                held.delete()
            row = None
        else:
            row, _ = InterventionCost.objects.update_or_create(
                district=district,
                key=key,
                defaults={"cost_per_student": amount, "note": note.strip()[:300], "set_by": user},
            )
        do_log_district_change(
            user=user,
            district=district,
            via=via,
            action=AuditEntry.Action.UPDATE,
            subject=f"intervention cost {key}",
            details={
                "key": key,
                "before": before,
                "after": None if amount is None else str(amount),
            },
        )
    return row


def do_refresh_impact(
    district: District, *, as_of: dt.date | None = None, weeks: int = DEFAULT_WEEKS
) -> dict:
    """Compute the district's impact table (`district_impact`) and replace its stored rows
    with it in one transaction: a reader sees the old table or the new, never a mix. Only
    aggregates are stored (no student), so there is nothing to audit."""
    report = district_impact(district, as_of=as_of, weeks=weeks)
    now = timezone.now()
    with transaction.atomic():
        ImpactEstimate.objects.filter(district=district).delete()
        ImpactEstimate.objects.bulk_create(
            ImpactEstimate(
                district=district,
                as_of=report.as_of,
                weeks=report.weeks,
                computed_at=now,
                position=position,
                grouping=row.grouping,
                key=row.key,
                label=row.label,
                method=row.method,
                treated=row.estimate.treated,
                comparison=row.estimate.comparison,
                effect=row.estimate.effect,
                low=row.estimate.low,
                high=row.estimate.high,
                unmatched=row.estimate.unmatched,
                pending=row.estimate.pending,
                cost_per_student=row.cost_per_student,
            )
            for position, row in enumerate(report.rows)
        )
    return {"rows": len(report.rows)}
