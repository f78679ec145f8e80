"""The processes of check_chatkit.py: a fake OpenAI-compatible model served in this process, and
development instances of the service over the sample lessons."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
# The fake model's answer, its citation marker split across deltas.
DELTAS = ["Agents act ", "in a loop", " [", "1]."]
USER = "upstream-chatkit"


# --- The fake model --------------------------------------------------------------------------


class FakeModel(BaseHTTPRequestHandler):
    """`POST /v1/chat/completions`: streams DELTAS as Chat Completions chunks, then a `stop`
    chunk with usage and `[DONE]` (the format of tests/api/fake_model.rs)."""

    last_body: dict | None = None

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        FakeModel.last_body = json.loads(body)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for delta in DELTAS:
            chunk = {"choices": [{"index": 0, "delta": {"content": delta}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        tail = {
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7},
        }
        self.wfile.write(f"data: {json.dumps(tail)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args: Any) -> None:
        pass


def start_fake_model() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- The service -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: Any = None, timeout: float = 30) -> tuple[int, bytes, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("x-user-id", USER)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


class Service:
    """`study-mode-api serve` with exactly `extra` besides a development base (no inherited
    environment; a temporary working directory, so no .env)."""

    def __init__(self, binary: str, name: str, work: Path, extra: dict[str, str]) -> None:
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        folder = work / name
        folder.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "APP_ENV": "development",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": f"sqlite://{folder}/s.sqlite?mode=rwc",
            "LESSONS_DIR": str(ROOT / "examples" / "lessons"),
            "SYNC_ON_START": "true",
            "WORKER_IN_PROCESS": "true",
            "JOB_POLL_INTERVAL_MS": "50",
            "RATE_LIMIT_API_FREE": "unlimited",
            "RATE_LIMIT_CHAT_FREE": "unlimited",
            "PREAUTH_RATE_LIMIT": "unlimited",
            **extra,
        }
        self.log = folder / "service.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "serve"], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> str:
        """GET /health/ready answers 200, then the book is indexed (60 s each at most): "" or
        what went wrong."""
        for path, done in (
            ("/health/ready", lambda status, body: status == 200),
            (
                "/v1/book/toc",
                lambda status, body: status == 200 and json.loads(body).get("lessons_total") == 2,
            ),
        ):
            deadline = time.monotonic() + 60
            while True:
                if self.proc.poll() is not None:
                    return f"the service exited ({self.proc.returncode})\n{self.tail()}"
                try:
                    status, body, _ = http("GET", self.url + path, timeout=5)
                    if done(status, body):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    return f"GET {path} did not answer within 60 s\n{self.tail()}"
                time.sleep(0.2)
        return ""

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
