"""The language a member of staff reads Homeroom in: chosen in the page header, kept on
their account (docs/languages.md)."""

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from homeroom.accounts.actions import do_set_language


class LanguageForm(forms.Form):
    """One of the interface's languages."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    """Keep the language the user chose and show the page they were on in it.

    The page is the one the browser says the form was sent from (Referer, which the
    same-origin referrer policy sends): a field naming it would make every page's header
    differ by its address, and a refused student's page must read exactly like a missing one.
    """
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(
            _("Choose a language from the list: %(languages)s.")
            % {"languages": ", ".join(name for _code, name in settings.LANGUAGES)}
        )
    do_set_language(user=request.user, language=form.cleaned_data["language"])
    back = request.headers.get("referer", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "web:home"
    return redirect(back)
