"""An organisation's notification and tracking settings: read (with the provider credentials
masked, see ``lastmile.common.secrets``), validated and replaced. Part of the notifications
slice's service layer (the only other module that commits ``Organisation.settings``'
notification and tracking sections)."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.orm import Session

from lastmile.common import secrets
from lastmile.common.netguard import Policy, UrlRefused
from lastmile.core.errors import FieldIssue, InputError, NotFound
from lastmile.integrations.notify.apprise_channel import check_template
from lastmile.notifications.schemas import (
    SECRET_FIELDS,
    NotificationSettings,
    SettingsBody,
    TrackingSettings,
)
from lastmile.orgs.models import Organisation

log = logging.getLogger(__name__)


def settings_of(org: Organisation) -> NotificationSettings:
    """The organisation's notification settings (defaults where it has none or bad ones)."""
    raw = (org.settings or {}).get("notifications")
    try:
        return NotificationSettings.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError:
        log.warning("organisation %s has invalid notification settings; using defaults", org.id)
        return NotificationSettings()


def organisation(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def get_settings(*, session: Session, org_id: str) -> SettingsBody:
    """What any reader (API, dashboard) sees: the SMS and chat URLs masked, since they hold
    the provider's credentials (write-only, see ``lastmile.common.secrets``)."""
    org = organisation(session, org_id)
    raw = (org.settings or {}).get("tracking")
    try:
        track = TrackingSettings.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError:
        track = TrackingSettings()
    shown = settings_of(org)
    for name in SECRET_FIELDS:
        url = getattr(shown, name)
        if url:
            setattr(shown, name, secrets.mask_url(url))
    return SettingsBody(notifications=shown, tracking=track)


def update_settings(
    *, session: Session, org_id: str, body: SettingsBody, policy: Policy
) -> SettingsBody:
    """Replace the organisation's notification and tracking settings (an SMS or chat URL
    that the outbound ``policy`` would never let through is refused now). An SMS or chat URL
    sent back masked, as :func:`get_settings` showed it, keeps the stored one."""
    org = organisation(session, org_id)
    stored = settings_of(org)
    issues = []
    for name in SECRET_FIELDS:
        field = f"notifications.{name}"
        try:
            url = secrets.kept(getattr(body.notifications, name), getattr(stored, name))
        except ValueError as exc:
            issues.append(FieldIssue(None, field, getattr(body.notifications, name), str(exc)))
            continue
        setattr(body.notifications, name, url)
        if url and url != getattr(stored, name):
            try:
                check_template(url, policy)
            except UrlRefused as exc:
                issues.append(FieldIssue(None, field, secrets.mask_url(url), str(exc)))
    if issues:
        raise InputError(issues=issues, source="notification settings")
    values = dict(org.settings or {})
    values["notifications"] = body.notifications.model_dump(mode="json", exclude_none=True)
    values["tracking"] = body.tracking.model_dump(mode="json")
    org.settings = values  # a new dict, so the JSON column is written
    session.commit()
    return get_settings(session=session, org_id=org_id)
