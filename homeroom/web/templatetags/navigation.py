"""Template filters that decide which parts of the navigation a user is offered."""

from django import template

from homeroom.ingest import selectors as ingest_selectors

register = template.Library()


@register.filter
def may_view_imports(user) -> bool:
    """Whether the user is offered the Imports pages."""
    return user.is_authenticated and ingest_selectors.may_view_imports(user)
