"""The Python anchor of the load benchmark: FreJun's Python SDK (`teler` 1.0.0)
`StreamConnector` with the seed app's two ElevenLabs handlers, behind a `websockets` server.

Listens on BIND_ADDR (default 127.0.0.1:8080), accepts Teler's media stream on
/media-stream, and bridges each call to REMOTE_WS_URL, exactly as the seed app does (the seed
serves it with FastAPI; here a thin wrapper gives a `websockets` connection the three methods
`StreamConnector.bridge_stream` calls: `iter_text`, `send_text`, `close`).

    pip install -r bench/requirements.txt
    REMOTE_WS_URL=ws://127.0.0.1:8090/ BIND_ADDR=127.0.0.1:8081 python3 bench/python_bridge.py
"""

import asyncio
import json
import os
import sys

import websockets
from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers

from teler.streams import StreamConnector, StreamOp, StreamType


# The seed's handlers (FreJun's ElevenLabs sample app).
async def call_stream_handler(message: str):
    msg = json.loads(message)
    if msg["type"] == "audio":
        payload = json.dumps({"user_audio_chunk": msg["data"]["audio_b64"]})
        return (payload, StreamOp.RELAY)
    return ({}, StreamOp.PASS)


def remote_stream_handler():
    chunk_id = 1

    async def handler(message: str):
        nonlocal chunk_id
        data = json.loads(message)
        if data["type"] == "audio":
            audio_b64 = data["audio_event"]["audio_base_64"]
            payload = json.dumps(
                {"type": "audio", "audio_b64": audio_b64, "chunk_id": chunk_id}
            )
            chunk_id += 1
            return (payload, StreamOp.RELAY)
        elif data["type"] == "interruption":
            return (json.dumps({"type": "clear"}), StreamOp.RELAY)
        return ({}, StreamOp.PASS)

    return handler


class CallSocket:
    """A `websockets` server connection with the Starlette-style methods the SDK calls."""

    def __init__(self, ws):
        self.ws = ws

    async def iter_text(self):
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    yield message
        except websockets.ConnectionClosed:
            return

    async def send_text(self, data: str):
        await self.ws.send(data)

    async def close(self, code: int = 1000, reason: str = ""):
        await self.ws.close(code, reason)


REMOTE_WS_URL = os.environ.get("REMOTE_WS_URL", "")


async def media_stream(ws):
    connector = StreamConnector(
        stream_type=StreamType.BIDIRECTIONAL,
        remote_url=REMOTE_WS_URL,
        call_stream_handler=call_stream_handler,
        remote_stream_handler=remote_stream_handler(),
    )
    try:
        await connector.bridge_stream(CallSocket(ws))
    except Exception as e:  # the seed logs and moves on
        print(f"bridge failed: {e!r}", file=sys.stderr)


def only_media_stream(connection, request):
    if request.path.split("?")[0] != "/media-stream":
        return Response(404, "Not Found", Headers(), b"no WebSocket here\n")
    return None


async def main():
    if not REMOTE_WS_URL:
        print("python_bridge: set REMOTE_WS_URL", file=sys.stderr)
        sys.exit(2)
    host, port = os.environ.get("BIND_ADDR", "127.0.0.1:8080").rsplit(":", 1)
    async with serve(
        media_stream, host, int(port), process_request=only_media_stream, backlog=4096
    ) as server:
        print(f"python_bridge listening on {host}:{port}", file=sys.stderr)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
