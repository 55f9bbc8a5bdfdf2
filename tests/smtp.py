"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd, collecting what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        #: Addresses answered at RCPT TO with the SMTP reply given, such as "550 5.1.1 ...".
        self.refused: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)
        return "250 OK"


class SMTPServer:
    """Start and stop a local SMTP server on a fixed port, as an outage test needs."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.collector = _Collector()
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.collector.messages

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO for this address with `reply` from now on."""
        self.collector.refused[address] = reply

    def start(self) -> SMTPServer:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
