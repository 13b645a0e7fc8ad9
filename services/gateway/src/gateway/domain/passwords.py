"""The password policy: long enough, mixed, not common, not the email."""

from __future__ import annotations

import string

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

# The most common passwords in public breach corpora that pass the length rule.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "a123456789",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "p@ssw0rd123",
        "iloveyou123",
        "princess123",
        "football123",
        "baseball123",
        "welcome123",
        "welcome1234",
        "abc1234567",
        "abcd123456",
        "letmein123",
        "sunshine123",
        "superman123",
        "trustno1234",
        "monkey12345",
        "dragon12345",
        "master12345",
        "zaq12wsxcde",
        "zxcvbnm123",
        "asdfghjkl1",
        "qazwsxedc1",
        "changeme123",
        "admin12345",
        "administrator",
        "administrator1",
        "ticketing123",
    }
)

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def _character_classes(password: str) -> int:
    seen = {
        index
        for character in password
        for index, group in enumerate(_CLASSES)
        if character in group
    }
    if any(not any(character in group for group in _CLASSES) for character in password):
        seen.add(len(_CLASSES))
    return len(seen)


def password_problems(password: str, email: str) -> list[str]:
    """Every reason `password` is too weak for the account `email`; empty when it is fine."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password and _character_classes(password) < 2:
        problems.append(
            "must mix at least two kinds of characters (lower case, upper case, digits, symbols)"
        )
    if password.lower() in COMMON_PASSWORDS:
        problems.append("is one of the most common passwords")
    local_part = email.partition("@")[0].lower()
    if len(local_part) >= 3 and local_part in password.lower():
        problems.append("must not contain your email address")
    return problems
