#!/usr/bin/env python3
"""Hostile / broken Hikvision ISAPI device: a test fixture for tests/hostile.rs.

The Rust integration tests start this server, run the real hiktalk binary
against it and then inspect the JSON-lines request log (--log) to check that
nothing unsafe ever reached the wire (no injected header, no request target
outside the expected ISAPI paths), and that the client gives up on devices
that stall, drip or stream forever.

Usage:
    python3 tests/hostile/server.py --mode MODE --log FILE [--port 0] [--other-port N]

First stdout line: "hostile listening on http://127.0.0.1:PORT".
Standard library only (Python 3.11).

Modes:
    normal           well-behaved device, no authentication
    traversal-id     channel id "../../../Security/users/1"
    crlf-id          channel id "1&#13;&#10;X-Injected: yes" (decodes to CR LF)
    hash-id          channel id "1#"
    query-id         channel id "1?x=y"
    space-id         channel id "1 2"
    crlf-text        deviceInfo model with CR LF, a C1 CSI and a bidi override (escaping check)
    redirect-307     every request -> 307 to http://127.0.0.1:OTHER_PORT<same target>
    redirect-open    PUT .../open -> 302 to http://evil.example:8080/x
    utf8-challenge   PUT .../audioData -> 401 whose WWW-Authenticate splits a UTF-8 char at byte 6
    endless-body     GET channels -> 200, no Content-Length, endless body
    endless-chunked  GET channels -> 200, chunked, endless 64 KiB chunks
    drip-audio       PUT .../audioData answer dripped 1 byte / 50 ms, forever
    drip-head        GET channels answer dripped 1 byte / 50 ms, huge Content-Length
    stall-close      PUT .../close read but never answered
    close-refused    PUT .../close -> 200 ResponseStatus statusCode 4 invalidOperation
    big-head         GET channels -> 100000 header lines, head never finished
"""

import argparse
import json
import select
import signal
import socket
import socketserver
import sys
import threading
import time

NS = "http://www.hikvision.com/ver20/XMLSchema"
XML_CT = b'application/xml; charset="UTF-8"'
MAX_HEAD = 64 * 1024
CHANNELS = "/ISAPI/System/TwoWayAudio/channels"

MODES = [
    "normal", "traversal-id", "crlf-id", "hash-id", "query-id", "space-id",
    "crlf-text", "redirect-307", "redirect-open", "utf8-challenge",
    "endless-body", "endless-chunked", "drip-audio", "drip-head",
    "stall-close", "close-refused", "big-head",
]

# Channel ids are already XML text: they are pasted into the documents as is.
CHANNEL_IDS = {
    "traversal-id": "../../../Security/users/1",
    "crlf-id": "1&#13;&#10;X-Injected: yes",
    "hash-id": "1#",
    "query-id": "1?x=y",
    "space-id": "1 2",
}

# "Digesé": 'D','i','g','e','s' are bytes 0..5 and 'é' is bytes 5..7, so a
# client slicing value[..6] to look for "Digest" lands inside a character.
UTF8_CHALLENGE = 'Digesé realm="x", nonce="n", qop="auth"'.encode("utf-8")


class Config:
    mode = "normal"
    other_port = 0
    log_file = None
    log_lock = threading.Lock()


def channel_xml():
    cid = CHANNEL_IDS.get(Config.mode, "1")
    return (f'<TwoWayAudioChannel version="2.0" xmlns="{NS}"><id>{cid}</id>'
            "<enabled>false</enabled><audioCompressionType>G.711ulaw</audioCompressionType>"
            "<audioBitRate>64</audioBitRate><audioSamplingRate>8</audioSamplingRate>"
            "<speakerVolume>100</speakerVolume></TwoWayAudioChannel>")


def doc(body):
    return ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode("utf-8")


def channel_list_doc():
    return doc(f'<TwoWayAudioChannelList version="2.0" xmlns="{NS}">'
               + channel_xml() + "</TwoWayAudioChannelList>")


def status_doc(code=1, string="OK", sub="ok"):
    return doc(f'<ResponseStatus version="2.0" xmlns="{NS}"><requestURL></requestURL>'
               f"<statusCode>{code}</statusCode><statusString>{string}</statusString>"
               f"<subStatusCode>{sub}</subStatusCode></ResponseStatus>")


def not_supported():
    return 404, status_doc(4, "Invalid Operation", "notSupport")


def device_info_doc():
    # XML 1.0 forbids ESC (&#27;) but allows CR, LF, the C1 CSI (U+009B, which terminals treat
    # like ESC [) and the right-to-left override.
    model = "DS&#13;&#10;&#x9b;31mRED&#x202e;txt" if Config.mode == "crlf-text" else "DS-HOSTILE"
    return doc(f'<DeviceInfo version="2.0" xmlns="{NS}"><deviceName>hostile</deviceName>'
               f"<model>{model}</model><firmwareVersion>V0</firmwareVersion></DeviceInfo>")


REASONS = {200: b"OK", 302: b"Found", 307: b"Temporary Redirect",
           400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
           431: b"Request Header Fields Too Large"}


def response(status, body=b"", headers=(), content_length=None, close=False):
    """Build raw response bytes. `headers` is a list of (bytes, bytes)."""
    lines = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, b"Whatever"))]
    if body:
        lines.append(b"Content-Type: " + XML_CT)
    cl = len(body) if content_length is None else content_length
    lines.append(b"Content-Length: %d" % cl)
    lines.append(b"Connection: close" if close else b"Connection: keep-alive")
    lines.extend(name + b": " + value for name, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def log_request(entry):
    # Written and flushed before any answer, so a test that kills everything
    # early still sees the request.
    with Config.log_lock:
        if Config.log_file.closed:  # shutting down
            return
        Config.log_file.write(json.dumps(entry) + "\n")
        Config.log_file.flush()


class ClientGone(Exception):
    """The peer closed its side: stop this connection quietly."""


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.sock = self.request
        self.sock.settimeout(600)  # idle keep-alive connections eventually go
        self.buf = b""

    def handle(self):
        try:
            while self.serve_one():
                pass
        except (ClientGone, OSError):
            pass  # BrokenPipe, ConnectionReset, timeouts: end quietly

    # ---- socket helpers -------------------------------------------------

    def recv_more(self):
        data = self.sock.recv(65536)
        if not data:
            raise ClientGone()
        self.buf += data

    def discard(self, n):
        while len(self.buf) < n:
            self.recv_more()
        self.buf = self.buf[n:]

    def drain_for(self, seconds):
        """Read and discard whatever arrives for `seconds` (None: forever).

        Doubles as a sleep that notices the client going away: raises
        ClientGone on EOF, which is how the drip / stall modes stop.
        """
        self.buf = b""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready and not self.sock.recv(65536):
                raise ClientGone()

    def drip(self, data, pad=b" "):
        """Send `data` one byte every 50 ms, then `pad` forever."""
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            self.drain_for(0.05)
        while True:
            self.sock.sendall(pad)
            self.drain_for(0.05)

    # ---- request parsing ------------------------------------------------

    def serve_one(self):
        """Handle one request; return False when the connection must end."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                self.sock.sendall(response(431, close=True))
                return False
            try:
                self.recv_more()
            except ClientGone:
                return False
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        request_line = lines[0]
        # Keep the target exactly as received, even with spaces in it:
        # method = first token, version = last token if it looks like one.
        parts = request_line.split(" ")
        method = parts[0]
        if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
            target = " ".join(parts[1:-1])
        else:
            target = " ".join(parts[1:])
        headers = []
        for line in lines[1:]:
            # Injected lines (request line split by CR LF) are logged verbatim.
            name, sep, value = line.partition(":")
            headers.append([name, value.strip()] if sep else [line, ""])
        log_request({"method": method, "target": target, "headers": headers,
                     "raw_request_line": request_line})

        if not target:
            self.sock.sendall(response(400, close=True))
            return False
        length = 0
        for name, value in headers:
            if name.strip().lower() == "content-length":
                length = int(value) if value.isdigit() else -1
        if length < 0:
            self.sock.sendall(response(400, close=True))
            return False
        is_audio = method == "PUT" and "/audioData" in target
        if not is_audio:
            self.discard(length)
        return self.answer(method, target, is_audio)

    # ---- answers --------------------------------------------------------

    def answer(self, method, target, is_audio):
        mode = Config.mode
        path = target.split("?", 1)[0].split("#", 1)[0]
        in_channel = path.startswith(CHANNELS + "/")
        is_open = method == "PUT" and in_channel and (path.endswith("/open") or target.endswith("/open"))
        is_close = method == "PUT" and in_channel and (path.endswith("/close") or target.endswith("/close"))
        is_list = method == "GET" and path == CHANNELS

        if mode == "redirect-307":
            loc = b"http://127.0.0.1:%d" % Config.other_port + target.encode("latin-1")
            self.sock.sendall(response(307, headers=[(b"Location", loc)]))
            if is_audio:
                self.drain_for(None)
            return True

        if is_audio:
            return self.answer_audio()

        if is_list and mode in ("endless-body", "endless-chunked"):
            return self.endless(chunked=mode == "endless-chunked")
        if is_list and mode == "drip-head":
            return self.drip(response(200, channel_list_doc(), content_length=10**9))
        if is_list and mode == "big-head":
            return self.big_head()
        if is_open and mode == "redirect-open":
            self.sock.sendall(response(302, headers=[(b"Location", b"http://evil.example:8080/x")]))
            return True
        if is_close and mode == "stall-close":
            return self.drain_for(None)  # never answered; ends via ClientGone
        if is_close and mode == "close-refused":
            self.sock.sendall(response(200, status_doc(4, "Invalid Operation", "invalidOperation")))
            return True

        status, body = self.normal_answer(method, path, in_channel, is_open, is_close, is_list)
        self.sock.sendall(response(status, body))
        return True

    def normal_answer(self, method, path, in_channel, is_open, is_close, is_list):
        if is_list:
            return 200, channel_list_doc()
        if is_open:
            return 200, doc(f'<TwoWayAudioSession version="2.0" xmlns="{NS}">'
                            "<sessionId>abc123</sessionId></TwoWayAudioSession>")
        if is_close:
            return 200, status_doc()
        if in_channel and method == "GET":
            return 200, doc(channel_xml())
        if method == "GET" and path == "/ISAPI/System/deviceInfo":
            return 200, device_info_doc()
        return not_supported()  # callStatus, traversals, anything else

    def answer_audio(self):
        """PUT .../audioData: Content-Length 0, then raw audio until EOF."""
        mode = Config.mode
        if mode == "utf8-challenge":
            body = (b"<userCheck><statusValue>401</statusValue>"
                    b"<statusString>Unauthorized</statusString></userCheck>")
            self.sock.sendall(response(401, body, close=True,
                                       headers=[(b"WWW-Authenticate", UTF8_CHALLENGE)]))
            # Half-close so the client sees EOF, but keep reading for a while:
            # closing with unread audio in the kernel buffer would send an RST
            # that could destroy the 401 before the client reads it.
            self.sock.shutdown(socket.SHUT_WR)
            self.drain_for(5)
            return False
        if mode == "drip-audio":
            # Keeps reading (discarding) the audio while dripping, so the
            # client's writes do not block: only the answer is slow.
            return self.drip(response(200, status_doc(), content_length=100000))
        self.sock.sendall(response(200, status_doc()))
        self.drain_for(None)
        return False

    def endless(self, chunked):
        head = [b"HTTP/1.1 200 OK", b"Content-Type: " + XML_CT, b"Connection: close"]
        if chunked:
            head.append(b"Transfer-Encoding: chunked")
        self.sock.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        block = b"<a>" + b"x" * (64 * 1024 - 3)
        if chunked:
            block = b"%x\r\n" % len(block) + block + b"\r\n"
        while True:  # until BrokenPipe / ConnectionReset
            self.sock.sendall(block)

    def big_head(self):
        self.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + XML_CT + b"\r\n")
        pad = b"y" * 100
        for n in range(100000):
            self.sock.sendall(b"X-Pad-%d: %s\r\n" % (n, pad))
        self.drain_for(None)  # head never finished; wait for the client to go


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--other-port", type=int, default=0)
    args = ap.parse_args()

    Config.mode = args.mode
    Config.other_port = args.other_port
    Config.log_file = open(args.log, "a", encoding="utf-8")

    def stop(signum, frame):
        raise SystemExit(0)  # unwinds serve_forever in the main thread

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = Server(("127.0.0.1", args.port), Handler)
    print(f"hostile listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        with Config.log_lock:
            Config.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
