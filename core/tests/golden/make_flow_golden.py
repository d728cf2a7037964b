"""Regenerates flow_python_1_0_0.json with FreJun's Python SDK (pip package `teler` 1.0.0).

    pip download --no-deps teler==1.0.0 && unzip teler-1.0.0-*.whl -d /tmp/teler
    python3 make_flow_golden.py /tmp/teler/teler/flows.py > flow_python_1_0_0.json

Each case is the compact JSON (what FastAPI's JSONResponse sends) of one CallFlow call.
core/tests/flow_golden.rs builds the same cases with the Rust builders and compares.
"""
import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("flows", sys.argv[1])
flows = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flows)
F = flows.CallFlow

cases = {
    "stream_defaults": F.stream("wss://example.com/media-stream"),
    "stream_seed": F.stream(ws_url="wss://voice.example.com/media-stream", chunk_size=500, record=True),
    "stream_16k_no_record": F.stream("ws://h:8080/ws?token=a%20b&x=1", sample_rate="16k", chunk_size=20, record=False),
    "play": F.play("https://cdn.example.com/hello.mp3"),
    "play_next_flow": F.play("https://cdn.example.com/hello.mp3", flow_url="https://app.example.com/next"),
    "hangup": F.hangup(),
    "dial_defaults": F.dial("+14155550100"),
    "dial_sip_full": F.dial(
        "sip:alice@pbx.example.com",
        timeout=600,
        record="per_leg",
        custom_headers={"X-Ticket": "42", "X-Team": "support"},
        status_callback_url="https://app.example.com/dial-status",
        ringback="suppress",
        dial_music={"action": "play", "media_url": "https://cdn.example.com/hold.mp3", "loop": True},
        confirm_sound={"action": "play", "media_url": "https://cdn.example.com/beep.mp3"},
        on_no_answer={"action": "hangup"},
        on_busy={"action": "play", "media_url": "https://cdn.example.com/busy.mp3", "loop": False},
        on_failure={"action": "hangup"},
    ),
    "dial_record_true": F.dial("+442071838750", timeout=1, record=True),
    "dial_record_stereo_unicode": F.dial("+919876543210", record="stereo", custom_headers={"X-Name": "Zoë ☎"}),
}
out = {k: json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in cases.items()}
print(json.dumps(out, ensure_ascii=False, indent=1))
