"""A real SMTP server for the tests (aiosmtpd), on 127.0.0.1 and a free port, recording what it accepts.

``hold(predicate)`` makes the server keep the next message that matches waiting before it answers, until
``release()``: a client killed meanwhile has delivered nothing (the message is not recorded), as RFC 5321
says of a transaction without the server's final reply.
"""

import asyncio
import email
import socket
import threading
from email import policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """The handler: accepted messages in order; refusals and a hold on request."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: dict[str, str] = {}  # recipient → SMTP reply, e.g. "550 no such user"
        self._hold = None
        self.held = threading.Event()
        self._release = threading.Event()

    def hold(self, predicate) -> None:
        self._hold = predicate

    def release(self) -> None:
        self._release.set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        if self._hold is not None and self._hold(message):
            self._hold = None
            self.held.set()
            while not self._release.is_set():
                await asyncio.sleep(0.05)
            if session.transport is None or session.transport.is_closing():
                return "421 the client went away"
        self.messages.append(message)
        return "250 OK"


class SMTPServer:
    """``with SMTPServer() as smtp:`` — ``smtp.port``, ``smtp.recorder``."""

    def __init__(self):
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.recorder.release()
        self.controller.stop()
