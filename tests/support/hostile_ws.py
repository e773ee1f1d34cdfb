"""Test helper: a deliberately misbehaving Pelion-like server on 127.0.0.1, written on raw
asyncio streams so a test controls every byte: frames split into tiny delayed pieces or
fragmented into continuation frames, huge frames, non-JSON and binary frames, TCP resets,
half-open connections (no close frame, no data, pings unanswered).

It answers ``PUT /v2/notification/websocket`` with 200 (or a scripted status) and upgrades
``GET /v2/notification/websocket-connect``; each accepted WebSocket runs the next script of
``scripts`` (the last one repeats), a coroutine ``script(conn)`` using ``Conn``'s methods.

    async def script(conn):
        await conn.send_text(json.dumps(msg), split=7, delay=0.001)
        conn.reset()
    with HostileServer([script]) as server: server.url
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """One unmasked server frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 65536:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


class Conn:
    """One upgraded connection as a script sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 index: int, server: HostileServer) -> None:
        self.reader, self.writer, self.index, self.server = reader, writer, index, server
        self.answer_pings = True
        self.lock = asyncio.Lock()
        self.closed = asyncio.Event()

    async def write(self, data: bytes, split: int = 0, delay: float = 0.0) -> None:
        """Write ``data`` whole, or in random pieces of 1..``split`` bytes with ``delay``."""
        async with self.lock:
            if not split:
                self.writer.write(data)
                await self.writer.drain()
                return
            rng = random.Random(len(data))
            at = 0
            while at < len(data):
                step = rng.randint(1, split)
                self.writer.write(data[at:at + step])
                await self.writer.drain()
                at += step
                if delay:
                    await asyncio.sleep(delay)

    async def send_text(self, text: str | bytes, split: int = 0, delay: float = 0.0) -> None:
        data = text.encode() if isinstance(text, str) else text
        await self.write(frame(data, 0x1), split, delay)

    async def send_binary(self, data: bytes) -> None:
        await self.write(frame(data, 0x2))

    async def send_fragmented(self, data: bytes, pieces: int, delay: float = 0.0) -> None:
        """One text message as ``pieces`` continuation frames (RFC 6455 fragmentation)."""
        size = max(1, -(-len(data) // pieces))
        parts = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        for number, part in enumerate(parts):
            opcode = 0x1 if number == 0 else 0x0
            await self.write(frame(part, opcode, fin=number == len(parts) - 1))
            if delay:
                await asyncio.sleep(delay)

    async def close(self, code: int) -> None:
        await self.write(frame(struct.pack("!H", code), 0x8))
        await asyncio.wait_for(self.closed.wait(), 5)

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0): no close frame at all."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hold(self) -> None:
        """Keep the connection open, silent, until the client goes away."""
        await self.closed.wait()


Script = Callable[[Conn], Awaitable[Any]]


class HostileServer:
    def __init__(self, scripts: list[Script], put_statuses: list[int] | None = None) -> None:
        self.scripts = scripts
        self.put_statuses = list(put_statuses or [])
        self.connections = 0
        self.puts = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                      limit=2**20)
            port = self._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- HTTP and the upgrade ------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ")[0]
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                if method == "GET" and headers.get("upgrade", "").lower() == "websocket":
                    await self._upgrade(reader, writer, headers)
                    return
                self.puts += 1
                status = self.put_statuses.pop(0) if self.put_statuses else 200
                extra = "Retry-After: 0\r\n" if status == 429 else ""
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"{extra}Content-Length: 2\r\n\r\n{{}}".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()

    async def _upgrade(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       headers: dict[str, str]) -> None:
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Protocol: wss\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        await writer.drain()
        index = self.connections
        self.connections += 1
        conn = Conn(reader, writer, index, self)
        pump = asyncio.create_task(self._read_client(conn))
        script = self.scripts[min(index, len(self.scripts) - 1)]
        try:
            await script(conn)
            await conn.hold()
        finally:
            pump.cancel()

    async def _read_client(self, conn: Conn) -> None:
        """Parse the client's masked frames: answer pings (unless told not to) and closes."""
        reader = conn.reader
        try:
            while True:
                first, second = await reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await reader.readexactly(8))
                mask = await reader.readexactly(4) if second & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(size)))
                opcode = first & 0x0F
                if opcode == 0x9 and conn.answer_pings:
                    await conn.write(frame(data, 0xA))
                elif opcode == 0x8:
                    with contextlib.suppress(ConnectionError):
                        await conn.write(frame(data[:2], 0x8))
                    conn.writer.transport.close()
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            conn.closed.set()
