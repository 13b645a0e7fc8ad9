import pytest

from gateway.domain.passwords import password_problems
from gateway.domain.permissions import Permission, is_allowed, may_see_booking
from gateway.domain.users import Caller, normalise_email


def test_accepts_a_long_mixed_password() -> None:
    assert password_problems("Sturdy-Horse-42", "zoe@example.com") == []


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "at least 10 characters"),
        ("alllowercaseletters", "two kinds of characters"),
        ("12345678901234", "two kinds of characters"),
        ("password123", "most common passwords"),
        ("Qwertyuiop", "most common passwords"),
        ("zoe.smith-2024", "must not contain your email"),
    ],
)
def test_refuses_weak_passwords_and_says_why(password: str, reason: str) -> None:
    problems = password_problems(password, "zoe.smith@example.com")
    assert any(reason in problem for problem in problems), problems


def test_normalises_emails_to_lower_case() -> None:
    assert normalise_email("  Zoe@Example.COM ") == "zoe@example.com"


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("user", Permission.BOOK, True),
        ("user", Permission.MANAGE_CATALOG, False),
        ("user", Permission.DELETE_CATALOG, False),
        ("user", Permission.SEE_ALL_BOOKINGS, False),
        ("manager", Permission.MANAGE_CATALOG, True),
        ("manager", Permission.DELETE_CATALOG, False),
        ("manager", Permission.MANAGE_USERS, False),
        ("manager", Permission.WATCH_SALES, True),
        ("user", Permission.WATCH_SALES, False),
        ("admin", Permission.DELETE_CATALOG, True),
        ("admin", Permission.MANAGE_USERS, True),
        ("admin", Permission.SEE_ALL_BOOKINGS, True),
    ],
)
def test_role_permissions(role: str, permission: Permission, allowed: bool) -> None:
    assert is_allowed(role, permission) is allowed  # type: ignore[arg-type]


def test_only_the_owner_or_an_admin_sees_a_booking() -> None:
    assert may_see_booking(Caller("u1", "user"), "u1")
    assert not may_see_booking(Caller("u2", "user"), "u1")
    assert not may_see_booking(Caller("m1", "manager"), "u1")
    assert may_see_booking(Caller("a1", "admin"), "u1")
