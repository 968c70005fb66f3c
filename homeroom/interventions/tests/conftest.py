"""The cast with the district's default playbook installed, as a new district has it."""

import pytest

from homeroom.interventions.actions import do_install_defaults


@pytest.fixture
def playbook(cast):
    """The cast district's default barriers and intervention types (installed once)."""
    do_install_defaults(cast.district)
    return cast
