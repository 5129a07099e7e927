"""The console's password policy: long enough, not the user name, not a common password.

The common passwords are the bundled list `common_passwords.txt` (compared
case-insensitively). `storage.users` applies the policy to every password it stores.
"""

from __future__ import annotations

import functools
from importlib import resources

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, username: str) -> str | None:
    """Why `password` may not be used by `username`, or None when it may."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"
    folded = password.casefold()
    name = username.casefold()
    if name and (folded == name or (len(name) >= 3 and name in folded)):
        return "must not contain the user name"
    if folded in common_passwords() or folded.strip("0123456789!.") in common_passwords():
        return "is too common (it is on the list of passwords guessed first)"
    if len(set(password)) < 4:
        return "needs more different characters"
    return None
