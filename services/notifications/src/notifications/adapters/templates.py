"""The mails' words: Jinja2 templates in the package (`templates/<kind>.{subject.txt,txt,html}`).

HTML is autoescaped (a customer or event name is text, never markup); the plain text and
the subject are not, and the subject is folded onto one line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.application.ports import RenderedMail


def _money(amount: object, currency: object) -> str:
    return f"{Decimal(str(amount)):.2f} {currency}"


def _when(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%A} {utc.day} {utc:%B %Y, %H:%M} UTC"


class JinjaMailTemplates:
    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader("notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._environment.filters["money"] = _money
        self._environment.filters["when"] = _when

    def render(self, kind: str, context: dict[str, object]) -> RenderedMail:
        subject = self._environment.get_template(f"{kind}.subject.txt").render(context)
        return RenderedMail(
            subject=" ".join(subject.split()),
            text=self._environment.get_template(f"{kind}.txt").render(context),
            html=self._environment.get_template(f"{kind}.html").render(context),
        )
