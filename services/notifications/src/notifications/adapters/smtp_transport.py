"""Sends a mail over SMTP with aiosmtplib, one connection per mail, under a breaker.

A refusal for good (5xx to the recipient or the content) is `MailRejected`: the notice is
marked failed at once. Everything else (no connection, timeouts, 4xx, a refused login,
the breaker open) is `MailUnavailable` and retried with backoff; those failures open the
breaker, so a relay that is down is asked once per trial instead of once per mail.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from notifications.application.ports import Mail, MailRejected, MailUnavailable
from notifications.settings import NotificationsSettings, SmtpSecurity
from service_kit.circuit_breakers import CircuitBreaker, CircuitBreakerError


class RefusedForGood(Exception):
    """A permanent refusal: not the relay's health, so it does not count on the breaker."""


def compose(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((mail.to_name, mail.to_address))
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _permanent(error: aiosmtplib.SMTPException) -> bool:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in error.recipients)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return False
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500


class SmtpTransport:
    def __init__(self, settings: NotificationsSettings, breaker: CircuitBreaker) -> None:
        self._settings = settings
        self._breaker = breaker

    async def send(self, mail: Mail) -> None:
        settings = self._settings
        message = compose(mail, settings.mail_from)
        password = settings.smtp_password.get_secret_value()
        try:
            with self._breaker.calling():
                try:
                    await aiosmtplib.send(
                        message,
                        hostname=settings.smtp_url.host,
                        port=settings.smtp_port,
                        username=settings.smtp_username or None,
                        password=password or None,
                        use_tls=settings.smtp_security is SmtpSecurity.TLS,
                        start_tls=settings.smtp_security is SmtpSecurity.STARTTLS,
                        timeout=settings.smtp_timeout_seconds,
                    )
                except aiosmtplib.SMTPException as error:
                    if _permanent(error):
                        raise RefusedForGood(str(error)) from error
                    raise
        except RefusedForGood as refused:
            raise MailRejected(str(refused)) from None
        except CircuitBreakerError:
            raise MailUnavailable("SMTP relay: circuit open") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise MailUnavailable(f"{type(error).__name__}: {error}") from None
