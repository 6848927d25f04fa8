"""A real SMTP server (aiosmtpd) that records what it accepts and can be told to fail or to
be slow."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.messages: list = []
            # (time.time(), client's address) of each message accepted, in order.
            self.received: list[tuple[float, tuple]] = []
            self.reject: dict[str, str] = {}  # recipient -> reply, e.g. "550 5.1.1 no such user"
            self.busy_replies = 0  # answer this many DATA commands with 421
            self.delay = 0.0  # seconds before answering each DATA: a slow server
            self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.reject.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.busy_replies > 0:
                self.busy_replies -= 1
                return "421 4.3.2 Service busy, try later"
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.received.append((time.time(), session.peer))
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]


class SMTPServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
