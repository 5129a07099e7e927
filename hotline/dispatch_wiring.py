"""Wiring of engineer dispatch: its store, the check-in signing key and its settings."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from hotline.settings import Settings
from routing.domain.levels import SlaPolicy
from storage.database import Database
from storage.dispatch import DispatchRepository
from storage.sites import SiteRepository
from storage.tickets import TicketRepository
from supervision.config import SupervisionConfig
from supervision.dispatch.service import DispatchService
from translations import check_language

log = logging.getLogger(__name__)


def build_dispatch(
    settings: Settings,
    db: Database,
    tickets: TicketRepository,
    sites: SiteRepository,
    config: SupervisionConfig,
    sla: SlaPolicy,
) -> DispatchService:
    """The dispatch service; check-in links are signed with HOTLINE_CHECKIN_SECRET, else
    the session secret, else a key that lasts until the next restart."""
    secret = settings.checkin_secret or settings.session_secret
    if secret is not None:
        # A key of its own, derived: a check-in token never doubles as a session.
        key = hashlib.sha256(b"hotline check-in\n" + secret.get_secret_value().encode()).digest()
    else:
        log.warning(
            "neither HOTLINE_CHECKIN_SECRET nor HOTLINE_SESSION_SECRET is set: "
            "engineers' check-in links stop working at the next restart"
        )
        key = secrets.token_bytes(32)
    return DispatchService(
        store=DispatchRepository(db),
        tickets=tickets,
        sites=sites,
        policy=config.policy(sla),
        key=key,
        smtp=config.smtp,
        link_lifetime=timedelta(hours=settings.checkin_link_hours),
        public_base_url=config.public_base_url,
        language=check_language(settings.locale),
        recipients=config.recipients,
    )
