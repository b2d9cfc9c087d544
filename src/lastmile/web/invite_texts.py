"""The invitation page's words (``/app/invite/<token>``) in every language lastmile speaks.

A driver's one-time login link opens this page on the driver's phone before the driver app
does: a German-speaking organisation's driver reads it in German like the app that follows
(``common.i18n``; the staff's invitations stay in the dashboard's English). The password
policy's refusals are worded here too, so a driver who picks a common password is told so in
the same language. A test keeps German as complete as English.
"""

from __future__ import annotations

import re

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Invitation",
        "gone": "Ask your organisation's admin for a new link.",
        "password_set": "Your password is set for <b>{email}</b>.",
        "log_in": "Log in",
        "new_password": "Set a new password",
        "for": "For <b>{email}</b> ({org}).",
        "join": "Join {org}",
        "invited_as": "You are invited as <b>{role}</b>, with the e-mail <b>{email}</b>.",
        "accept_join": "Accept and join {org}",
        "choose_password": "New to lastmile? Choose a password",
        "your_name": "Your name",
        "password": "Password",
        "password_again": "Password again",
        "policy": "At least {n} characters, not your e-mail, not a common password.",
        "set_password": "Set password",
        "create_join": "Create my account and join",
        "have_account": "Already have a lastmile account with {email}?",
        "log_in_accept": "Log in to accept",
        "logged_in_as": "(you are logged in as {email}: log out first)",
        "differ": "The two passwords differ.",
        "role_driver": "driver",
        "role_dispatcher": "dispatcher",
        "role_admin": "admin",
    },
    "de": {
        "title": "Einladung",
        "gone": "Bitten Sie die Administration Ihrer Firma um einen neuen Link.",
        "password_set": "Ihr Passwort für <b>{email}</b> ist gesetzt.",
        "log_in": "Anmelden",
        "new_password": "Neues Passwort setzen",
        "for": "Für <b>{email}</b> ({org}).",
        "join": "Willkommen bei {org}",
        "invited_as": "Sie sind als <b>{role}</b> eingeladen, mit der E-Mail <b>{email}</b>.",
        "accept_join": "Annehmen und {org} beitreten",
        "choose_password": "Neu bei lastmile? Wählen Sie ein Passwort",
        "your_name": "Ihr Name",
        "password": "Passwort",
        "password_again": "Passwort wiederholen",
        "policy": "Mindestens {n} Zeichen, nicht Ihre E-Mail, kein gängiges Passwort.",
        "set_password": "Passwort setzen",
        "create_join": "Konto anlegen und beitreten",
        "have_account": "Sie haben schon ein lastmile-Konto mit {email}?",
        "log_in_accept": "Anmelden und annehmen",
        "logged_in_as": "(Sie sind als {email} angemeldet: bitte zuerst abmelden)",
        "differ": "Die beiden Passwörter sind nicht gleich.",
        "role_driver": "Fahrerin oder Fahrer",
        "role_dispatcher": "Disposition",
        "role_admin": "Administration",
    },
}

POLICY_DE = {
    "must have at least": "Das Passwort braucht mindestens {n} Zeichen.",
    "must have at most": "Das Passwort darf höchstens {n} Zeichen haben.",
    "must not be your e-mail address": "Das Passwort darf nicht Ihre E-Mail-Adresse sein.",
    "is one of the most common passwords": (
        "Das Passwort ist eines der häufigsten; bitte ein anderes wählen."
    ),
}
"""The password policy's refusals (``auth.passwords.problems``), by how they start."""


def policy_words(message: str, language: str) -> str:
    """The password policy's refusals in ``message`` in ``language`` (else it as it is)."""
    if language != "de":
        return message
    found = []
    for start, words in POLICY_DE.items():
        if start in message:
            number = re.search(re.escape(start) + r" (\d+)", message)
            found.append(words.format(n=number[1] if number else ""))
    return " ".join(found) or message
