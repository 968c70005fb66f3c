"""The demo's outreach: a worker beside the server, and a local SMS provider unless a real
account is set up, so no text leaves the machine from a demo."""

import threading
from collections.abc import Callable

from django.conf import settings

from homeroom.outreach.channels import sms_settings
from homeroom.outreach.delivery import run_worker
from homeroom.outreach.sandbox import LocalSmsProvider


def start_demo_outreach(public_url: str, *, say: Callable[[str], None]) -> Callable[[], None]:
    """Start the worker (and the local provider); returns what stops them."""
    provider = None
    if not sms_settings().configured:
        provider = LocalSmsProvider().start()
        settings.HOMEROOM_SMS = provider.settings(public_url=public_url)
        say(f"Texts go to a local SMS provider at {provider.url} (none leaves this machine).")
    stopping = threading.Event()
    worker = threading.Thread(
        target=run_worker, kwargs={"stop": stopping.is_set, "idle": 2.0}, daemon=True
    )
    worker.start()
    say("The outreach worker is running.")

    def stop() -> None:
        stopping.set()
        worker.join(timeout=10)
        if provider is not None:
            provider.stop()

    return stop
