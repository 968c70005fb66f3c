"""Writes of case management: cases, their parts, team meetings, the playbook and partners.

Every action checks access through the gatekeeper (`homeroom.access.cases`), validates
everything before writing (a `ValidationError` naming the field, nothing saved), and writes
its timeline event (`CaseEvent`) and audit entry in the same transaction as the change.
Nothing is deleted: cases are closed and their parts struck through with a reason. Rows
two staff may edit at once are changed only at the version the editor read
(`VersionConflict` otherwise, carrying the current version).

The actions live by subject in this package's modules; import them from here.
"""

from homeroom.interventions.actions.cases import (
    ActionItemInput,
    do_assign_case_manager,
    do_change_case_tier,
    do_close_case,
    do_open_case,
    do_record_team_meeting,
    do_refer_for_case,
    do_view_case,
)
from homeroom.interventions.actions.casework import (
    do_add_case_note,
    do_complete_follow_up,
    do_end_intervention,
    do_log_contact,
    do_record_barrier,
    do_refer_to_partner,
    do_review_plan,
    do_revise_plan,
    do_schedule_follow_up,
    do_start_intervention,
    do_strike,
    do_update_referral,
    do_write_plan,
)
from homeroom.interventions.actions.common import (
    CASE_MANAGER_ROLES,
    CONFIDENTIAL_TOPICS,
    SIS_READ_ONLY,
    VersionConflict,
)
from homeroom.interventions.actions.directory import (
    do_import_playbook,
    do_install_defaults,
    do_map_sis_intervention,
    do_retire,
    do_save_barrier,
    do_save_intervention_type,
    do_save_partner,
)

__all__ = [
    "CASE_MANAGER_ROLES",
    "CONFIDENTIAL_TOPICS",
    "SIS_READ_ONLY",
    "ActionItemInput",
    "VersionConflict",
    "do_add_case_note",
    "do_assign_case_manager",
    "do_change_case_tier",
    "do_close_case",
    "do_complete_follow_up",
    "do_end_intervention",
    "do_import_playbook",
    "do_install_defaults",
    "do_log_contact",
    "do_map_sis_intervention",
    "do_open_case",
    "do_record_barrier",
    "do_record_team_meeting",
    "do_refer_for_case",
    "do_refer_to_partner",
    "do_retire",
    "do_review_plan",
    "do_revise_plan",
    "do_save_barrier",
    "do_save_intervention_type",
    "do_save_partner",
    "do_schedule_follow_up",
    "do_start_intervention",
    "do_strike",
    "do_update_referral",
    "do_view_case",
    "do_write_plan",
]
