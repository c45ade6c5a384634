"""A local OpenAI-compatible HTTP server on 127.0.0.1 that code samples talk to instead of the real API.

It checks a request the way the real API does (known endpoint, an API key, `model` a string, `messages`
with valid roles and contents, known parameters of the right types) and answers with a well-formed
chat completion, so a sample is proven against the real `openai` SDK without leaving the machine.
Rejections are 4xx JSON bodies in OpenAI's error shape, which the SDK turns into its own exceptions.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STUB_REPLY = "9.8 is larger than 9.11. (This reply comes from the snippet checker's local OpenAI-compatible stub.)"

ROLES = ("system", "assistant", "user", "function", "tool", "developer")

# Top-level parameters of POST /v1/chat/completions: OpenAI's, plus the extras Qwen's compatible mode
# accepts (passed through the SDK's `extra_body`), so Qwen samples are not rejected for using them.
CHAT_PARAMS = frozenset(
    """messages model audio frequency_penalty function_call functions logit_bias logprobs max_completion_tokens
    max_tokens metadata modalities moderation n parallel_tool_calls prediction presence_penalty prompt_cache_key
    prompt_cache_options prompt_cache_retention reasoning_effort response_format safety_identifier seed
    service_tier stop store stream stream_options temperature tool_choice tools top_logprobs top_p user
    verbosity web_search_options
    enable_thinking thinking_budget enable_search search_options top_k repetition_penalty
    vl_high_resolution_images translation_options result_format incremental_output enable_code_interpreter""".split()
)
EMBEDDING_PARAMS = frozenset({"input", "model", "dimensions", "encoding_format", "user", "text_type"})

# Which content-part types each role may send in an array `content`.
PART_TYPES = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file", "video_url", "video"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}
MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "refusal", "tool_calls", "function_call", "audio", "partial"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}


class RequestRejected(Exception):
    """A request the real API would refuse; becomes an error body in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


_JSON_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
                    dict: "an object", type(None): "null"}


def _type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _invalid_type(param: str, expected: str, value: Any) -> RequestRejected:
    return RequestRejected(400, f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
                           param=param, code="invalid_type")


def _missing(param: str) -> RequestRejected:
    return RequestRejected(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def _check_unknown(body: dict[str, Any], known: frozenset[str]) -> None:
    for key in body:
        if key not in known:
            raise RequestRejected(400, f"Unrecognized request argument supplied: {key}", param=key)


def _check_number(body: dict[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    numeric = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not numeric:
        raise _invalid_type(name, "an integer" if integer else "a number", value)
    if not low <= value <= high:
        raise RequestRejected(400, f"Invalid '{name}': {value} is outside the allowed range [{low}, {high}].",
                              param=name, code="invalid_value" if integer else "decimal_out_of_range")


def _check_model(body: dict[str, Any]) -> str:
    if "model" not in body:
        raise RequestRejected(400, "you must provide a model parameter", param="model", code="missing_required_parameter")
    model = body["model"]
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    if not model.strip():
        raise RequestRejected(400, "Invalid 'model': empty string.", param="model", code="empty_string")
    return model


def _check_content(role: str, content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _invalid_type(f"{where}.content", "one of a string or array of objects", content)
    if not content:
        raise RequestRejected(400, f"Invalid '{where}.content': empty array.", param=f"{where}.content",
                              code="empty_array")
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise _invalid_type(at, "an object", part)
        kind = part.get("type")
        if kind is None:
            raise _missing(f"{at}.type")
        if kind not in PART_TYPES[role]:
            allowed = ", ".join(f"'{t}'" for t in PART_TYPES[role])
            raise RequestRejected(400, f"Invalid value: '{kind}'. Supported values are: {allowed}.",
                                  param=f"{at}.type", code="invalid_value")
        payload_key = {"text": "text", "refusal": "refusal", "image_url": "image_url", "input_audio": "input_audio",
                       "file": "file", "video_url": "video_url", "video": "video"}[kind]
        if payload_key not in part:
            raise _missing(f"{at}.{payload_key}")
        payload = part[payload_key]
        if kind in ("text", "refusal") and not isinstance(payload, str):
            raise _invalid_type(f"{at}.{payload_key}", "a string", payload)
        if kind == "image_url" and not (isinstance(payload, dict) and isinstance(payload.get("url"), str)):
            raise _missing(f"{at}.image_url.url")


def _check_messages(body: dict[str, Any]) -> None:
    if "messages" not in body:
        raise _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array", messages)
    if not messages:
        raise RequestRejected(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                              "but got an empty array instead.", param="messages", code="empty_array")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        if "role" not in message:
            raise _missing(f"{where}.role")
        role = message["role"]
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            raise RequestRejected(400, f"Invalid value: {json.dumps(role)}. Supported values are: {supported}.",
                                  param=f"{where}.role", code="invalid_value")
        extra = sorted(set(message) - MESSAGE_KEYS[role])
        if extra:
            raise RequestRejected(400, f"Additional properties are not allowed ('{extra[0]}' was unexpected) - "
                                  f"'messages.{i}'", param=where)
        content_optional = role == "assistant" and (message.get("tool_calls") or message.get("function_call"))
        if "content" not in message or (message["content"] is None and not content_optional):
            if not content_optional:
                raise _missing(f"{where}.content")
        elif message["content"] is not None:
            if role == "function":
                if not isinstance(message["content"], str):
                    raise _invalid_type(f"{where}.content", "a string", message["content"])
            else:
                _check_content(role, message["content"], where)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _missing(f"{where}.tool_call_id")
        if role == "function" and not isinstance(message.get("name"), str):
            raise _missing(f"{where}.name")


def validate_chat_request(body: Any) -> None:
    """Raise RequestRejected where the real API would refuse this chat-completion request body."""
    if not isinstance(body, dict):
        raise RequestRejected(400, "Invalid type for request body: expected an object.")
    _check_unknown(body, CHAT_PARAMS)
    _check_model(body)
    _check_messages(body)
    _check_number(body, "temperature", 0, 2)
    _check_number(body, "top_p", 0, 1)
    _check_number(body, "presence_penalty", -2, 2)
    _check_number(body, "frequency_penalty", -2, 2)
    _check_number(body, "n", 1, 128, integer=True)
    _check_number(body, "max_tokens", 1, 1 << 20, integer=True)
    _check_number(body, "max_completion_tokens", 1, 1 << 20, integer=True)
    _check_number(body, "top_logprobs", 0, 20, integer=True)
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise _invalid_type("stream", "a boolean", body["stream"])
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise _invalid_type("stop", "one of a string or array of strings", stop)
        if len(stop) > 4:
            raise RequestRejected(400, f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                                  f"but got an array with length {len(stop)} instead.", param="stop",
                                  code="array_above_max_length")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _invalid_type("tools", "an array", tools)
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom"):
                raise RequestRejected(400, f"Invalid value for 'tools[{i}].type'.", param=f"tools[{i}].type",
                                      code="invalid_value")
            if tool["type"] == "function" and not isinstance((tool.get("function") or {}).get("name"), str):
                raise _missing(f"tools[{i}].function.name")


def validate_embedding_request(body: Any) -> None:
    """Raise RequestRejected where the real API would refuse this embeddings request body."""
    if not isinstance(body, dict):
        raise RequestRejected(400, "Invalid type for request body: expected an object.")
    _check_unknown(body, EMBEDDING_PARAMS)
    _check_model(body)
    if "input" not in body:
        raise _missing("input")
    given = body["input"]
    if not (isinstance(given, str) or (isinstance(given, list) and given)):
        raise _invalid_type("input", "one of a string or array of strings or tokens", given)
    _check_number(body, "dimensions", 1, 8192, integer=True)
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise RequestRejected(400, f"Invalid value: '{body['encoding_format']}'. Supported values are: 'float' and "
                              "'base64'.", param="encoding_format", code="invalid_value")


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 24, "completion_tokens": 17, "total_tokens": 41}


def chat_completion(body: dict[str, Any], serial: int) -> dict[str, Any]:
    """A well-formed `chat.completion` object answering a validated request."""
    n = body.get("n") or 1
    return {
        "id": f"chatcmpl-stub{serial:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": STUB_REPLY, "refusal": None, "annotations": []},
             "logprobs": None, "finish_reason": "stop"}
            for i in range(n)
        ],
        "usage": _usage(),
        "service_tier": "default",
        "system_fingerprint": None,
    }


def chat_completion_chunks(body: dict[str, Any], serial: int) -> list[dict[str, Any]]:
    """The `chat.completion.chunk` events of a streamed answer, in order."""
    base = {"id": f"chatcmpl-stub{serial:06d}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": None}
    n = body.get("n") or 1
    chunks = []
    for i in range(n):
        chunks.append({**base, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                            "logprobs": None, "finish_reason": None}]})
        for word in STUB_REPLY.split(" "):
            chunks.append({**base, "choices": [{"index": i, "delta": {"content": word + " "}, "logprobs": None,
                                                "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": i, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage()})
    return chunks


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """A well-formed embeddings list; vectors are deterministic so samples can compare them."""
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    size = body.get("dimensions") or 8
    data = []
    for i, text in enumerate(inputs):
        seed = sum(map(ord, str(text))) or 1
        vector = [((seed * (k + 1)) % 997) / 997 for k in range(size)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    return {"object": "list", "data": data, "model": body["model"],
            "usage": {"prompt_tokens": 8 * len(inputs), "total_tokens": 8 * len(inputs)}}


_serials = itertools.count(1)
_ROUTES = {("POST", "/v1/chat/completions"), ("POST", "/v1/embeddings"), ("GET", "/v1/models")}


def _json(status: int, payload: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()


def _answer(method: str, target: str, authorization: str, raw: bytes) -> tuple[int, str, bytes]:
    path = target.split("?", 1)[0].rstrip("/")
    if (method, path) not in _ROUTES and not (method == "GET" and path.startswith("/v1/models/")):
        raise RequestRejected(404, f"Invalid URL ({method} {path})")
    if not authorization.removeprefix("Bearer ").strip():
        raise RequestRejected(401, "You didn't provide an API key. You need to provide your API key in an "
                              "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
    if method == "GET":
        model = {"id": "qwen-max-2025-01-25", "object": "model", "created": 1737763200, "owned_by": "system"}
        if path == "/v1/models":
            return _json(200, {"object": "list", "data": [model]})
        return _json(200, {**model, "id": path.removeprefix("/v1/models/")})
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise RequestRejected(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                              "you aren't using your HTTP library correctly.)") from None
    serial = next(_serials)
    if path == "/v1/embeddings":
        validate_embedding_request(body)
        return _json(200, embeddings(body))
    validate_chat_request(body)
    if body.get("stream"):
        events = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chat_completion_chunks(body, serial))
        return 200, "text/event-stream", events + b"data: [DONE]\n\n"
    return _json(200, chat_completion(body, serial))


def respond(method: str, target: str, authorization: str, raw: bytes) -> tuple[int, str, bytes]:
    """The stub's answer to one request: (status, content type, body).

    `target` is the request line's path and query, `authorization` the Authorization header ("" if none) and
    `raw` the body. The HTTP server below answers with it, and so does the snippet worker in-process for the
    OpenAI SDK's own clients (scripts/snippets/worker.py), so both check a request the same way.
    """
    try:
        return _answer(method, target, authorization, raw)
    except RequestRejected as err:
        return _json(err.status, err.body())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY each answer waits on delayed ACKs.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logging
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, content_type, data = respond(method, self.path, self.headers.get("Authorization", ""), raw)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)


# How our helper processes (this stub, the snippet workers) start Python: -I (isolated: no PYTHON* variables,
# no user site) would drop PYTHONDONTWRITEBYTECODE, so it is passed on as -B, and a caller who asked for no
# bytecode gets no __pycache__ in scripts/.
ISOLATED_PYTHON = (sys.executable, "-I", *(("-B",) if sys.flags.dont_write_bytecode else ()))


class OpenAIStub:
    """The stub server in a process of its own while the context is open.

    Its own process, because a server thread inside the checker would wait for the GIL while the checker
    parses posts, and every sample's request would wait with it.

    >>> with OpenAIStub() as stub:
    ...     stub.base_url  # 'http://127.0.0.1:PORT/v1'
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the stub is not running")
        return self._base_url

    @property
    def pipe_fds(self) -> tuple[int, int]:
        """Our ends of the pipes to the stub's process (a process forked from ours must close them)."""
        if self._process is None or self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("the stub is not running")
        return self._process.stdin.fileno(), self._process.stdout.fileno()

    def __enter__(self) -> "OpenAIStub":
        self._process = subprocess.Popen([*ISOLATED_PYTHON, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
        assert self._process.stdout is not None
        announced = self._process.stdout.readline().strip()
        if not announced.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError("the OpenAI stub failed to start")
        self._base_url = announced
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the stub stops when its stdin closes
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = self._base_url = None


def main() -> None:
    """Serve on a free port of 127.0.0.1, announce the base URL on stdout, stop when stdin closes."""
    server = _StubServer()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    sys.stdin.read()
    # Leave at once: a graceful server.shutdown() waits out the serving thread's poll interval, and there is
    # nothing to flush. (Every snippet worker stops its own stub, and a graceful shutdown would wait out its poll interval.)
    os._exit(0)


if __name__ == "__main__":
    main()
