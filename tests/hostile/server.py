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
    bidi-realm       every request -> 401, Digest realm of four U+202E (UTF-8 in the header)
    utf8-realm       Digest with realm "Türklingel" (UTF-8), checked: a right answer is served
    stale-loop       every request -> 401 with a fresh nonce and stale=TRUE
    password-text    doorbell ringing; callSignal -> 403 whose statusString says "password=..."
    short-stream     alertStream: one heartbeat part, then the connection closes
    drip-stream      alertStream: a head, then one junk byte a second, never a whole part
    cpu-stream       alertStream: a 200-byte boundary, then a part that never ends, 600 KiB of it in
                     16-byte packets (the first stream only; later ones stay silent)
    flood-parts      alertStream: unreadable parts as fast as the client takes them
    dense-json       callStatus -> a 4 MB JSON answer of two million zeros
    dense-xml        door PUT and AudioOut GET -> 4 MB of <a/>
    fast-audio       GET audioData -> G.711 as fast as the client reads (far faster than 8 kHz)
    door-refused     door PUT -> 200 ResponseStatus statusCode 4 invalidOperation
    door-503         door PUT -> 503
    bad-status-line  alertStream -> a malformed HTTP status line

The Digest modes log "auth" for each request: "none", "ok" or "bad".
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
    "stall-close", "close-refused", "big-head", "bidi-realm", "utf8-realm",
    "stale-loop", "password-text", "short-stream", "drip-stream", "cpu-stream",
    "flood-parts", "dense-json", "dense-xml", "fast-audio", "door-refused",
    "door-503", "bad-status-line",
]

ALERT = "/ISAPI/Event/notification/alertStream"
CALL_STATUS = "/ISAPI/VideoIntercom/callStatus"
DOOR = "/ISAPI/AccessControl/RemoteControl/door/"
AUDIO_OUT = "/ISAPI/System/Audio/AudioOut/channels/1"
# The password tests/hostile.rs puts in the URL; the Digest modes check answers against it.
USER, PASSWORD = b"admin", b"S3cr3t-PW"
REALMS = {"bidi-realm": "\u202e\u202e\u202e\u202e", "utf8-realm": "Türklingel", "stale-loop": "stale"}


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
    last_method = "GET"
    stale_nonces = 0
    streamed = False
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


def heartbeat_part(boundary=b"boundary"):
    body = doc(f'<EventNotificationAlert version="2.0" xmlns="{NS}"><channelID>1</channelID>'
               "<dateTime>2024-05-01T10:00:00+02:00</dateTime><activePostCount>0</activePostCount>"
               "<eventType>videoloss</eventType><eventState>inactive</eventState>"
               "<eventDescription>videoloss alarm</eventDescription></EventNotificationAlert>")
    return (b"--" + boundary + b"\r\nContent-Type: application/xml; charset=\"UTF-8\"\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body + b"\r\n")


def stream_head(boundary=b"boundary"):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=" + boundary
            + b"\r\nConnection: close\r\n\r\n")


def digest_ok(headers, realm):
    """Whether the request's Authorization answers the challenge for `realm` (MD5, qop=auth),
    the realm compared and hashed as its UTF-8 bytes."""
    import hashlib
    import re
    auth = next((v for n, v in headers if n.strip().lower() == "authorization"), None)
    if auth is None:
        return None
    raw = auth.encode("latin-1")  # the head was decoded as latin-1: these are the bytes sent
    if not raw.lower().startswith(b"digest "):
        return False
    params = {}
    for m in re.finditer(rb'([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', raw[7:]):
        params[m.group(1).lower()] = re.sub(rb"\\(.)", rb"\1", m.group(2)) if m.group(2) is not None else m.group(3)
    need = [b"username", b"realm", b"nonce", b"uri", b"response", b"nc", b"cnonce"]
    if any(k not in params for k in need) or params[b"realm"] != realm.encode("utf-8"):
        return False
    md5 = lambda b: hashlib.md5(b).hexdigest().encode()
    ha1 = md5(params[b"username"] + b":" + params[b"realm"] + b":" + PASSWORD)
    ha2 = md5(b"%s:%s" % (Config.last_method.encode(), params[b"uri"]))
    want = md5(b":".join([ha1, params[b"nonce"], params[b"nc"], params[b"cnonce"], b"auth", ha2]))
    return params[b"username"] == USER and params[b"response"] == want


def not_supported():
    return 404, status_doc(4, "Invalid Operation", "notSupport")


def device_info_doc():
    # XML 1.0 forbids ESC (&#27;) but allows CR, LF, the C1 CSI (U+009B, which terminals treat
    # like ESC [) and the right-to-left override.
    model = "DS&#13;&#10;&#x9b;31mRED&#x202e;txt" if Config.mode == "crlf-text" else "DS-HOSTILE"
    return doc(f'<DeviceInfo version="2.0" xmlns="{NS}"><deviceName>hostile</deviceName>'
               f"<model>{model}</model><firmwareVersion>V0</firmwareVersion></DeviceInfo>")


REASONS = {200: b"OK", 302: b"Found", 307: b"Temporary Redirect",
           400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
           503: b"Service Unavailable",
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
        entry = {"method": method, "target": target, "headers": headers,
                 "raw_request_line": request_line}
        realm = REALMS.get(Config.mode)
        if realm is not None:
            Config.last_method = method
            ok = digest_ok(headers, realm)
            entry["auth"] = {None: "none", True: "ok", False: "bad"}[ok]
        log_request(entry)
        if realm is not None and (Config.mode != "utf8-realm" or not entry["auth"] == "ok"):
            # Refused, with a challenge; the request's body (if any) is not read.
            if Config.mode == "stale-loop":
                Config.stale_nonces += 1
                challenge = 'Digest realm="stale", nonce="n%d", qop="auth", stale=TRUE' % Config.stale_nonces
            else:
                challenge = 'Digest realm="%s", nonce="abc", qop="auth"' % realm
            body = (b"<userCheck><statusValue>401</statusValue>"
                    b"<statusString>Unauthorized</statusString></userCheck>")
            self.sock.sendall(response(401, body, close=True,
                                       headers=[(b"WWW-Authenticate", challenge.encode("utf-8"))]))
            self.sock.shutdown(socket.SHUT_WR)
            self.drain_for(2)
            return False

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
        special = self.hostile_answer(method, path)
        if special is not None:
            return special

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

    def hostile_answer(self, method, path):
        """The answers of the newer modes; None: answer normally."""
        mode = Config.mode
        if method == "GET" and path == ALERT:
            return self.alert_stream(mode)
        if mode == "password-text" and path == CALL_STATUS:
            self.sock.sendall(response(200, b'{"CallStatus":{"status":"ring"}}'))
            return True
        if mode == "password-text" and path == "/ISAPI/VideoIntercom/callSignal":
            body = (b'{"statusCode":4,"statusString":"password= \\"***\\" caller x",'
                    b'"subStatusCode":"invalidOperation","errorCode":1073741830,'
                    b'"errorMsg":"password=hunter2 is wrong"}')
            self.sock.sendall(response(403, body))
            return True
        if mode == "dense-json" and path == CALL_STATUS:
            self.sock.sendall(response(200, b'{"CallStatus":{"status":"idle","x":[' + b"0," * 1999999 + b"0]}}"))
            return True
        if mode == "dense-xml" and (path.startswith(DOOR) or path == AUDIO_OUT):
            self.sock.sendall(response(200, b"<AudioOut>" + b"<a/>" * 999990 + b"</AudioOut>"))
            return True
        if mode == "door-refused" and path.startswith(DOOR):
            self.sock.sendall(response(200, status_doc(4, "Invalid Operation", "invalidOperation")))
            return True
        if mode == "door-503" and path.startswith(DOOR):
            self.sock.sendall(response(503))
            return True
        if mode == "fast-audio" and method == "GET" and path.endswith("/audioData"):
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: audio/basic\r\n"
                    b"Content-Length: 1000000000\r\nConnection: close\r\n\r\n")
            self.sock.sendall(head)
            block = bytes(range(0, 256, 3)) * 128  # ulaw noise, 10880 bytes
            while True:  # until the client goes: BrokenPipe / ConnectionReset
                self.sock.sendall(block)
        return None

    def alert_stream(self, mode):
        if mode == "bad-status-line":
            self.sock.sendall(b"HTXP/1.1 2OO OK\r\nContent-Type: multipart/mixed\r\n\r\n")
            self.drain_for(1)
            return False
        if mode == "short-stream":
            self.sock.sendall(stream_head() + heartbeat_part())
            self.sock.shutdown(socket.SHUT_WR)
            self.drain_for(1)
            return False
        if mode == "drip-stream":
            self.sock.sendall(stream_head())
            while True:
                self.sock.sendall(b"x")
                self.drain_for(1)
        if mode == "cpu-stream":
            boundary = b"b" * 200
            self.sock.sendall(stream_head(boundary))
            with Config.log_lock:
                first = not Config.streamed
                Config.streamed = True
            if first:  # one part's worth, then silence (later streams: silence only)
                self.sock.sendall(b"--" + boundary + b"\r\nContent-Type: application/xml\r\n\r\n")
                packet = b"<x>" + b"b" * 12 + b"-"  # boundary-like bytes, never a boundary line
                for _ in range(600 * 1024 // len(packet)):
                    self.sock.sendall(packet)
                    time.sleep(0.0001)  # each packet its own read
            self.drain_for(None)
        if mode == "flood-parts":
            self.sock.sendall(stream_head())
            part = b"--boundary\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{broken\r\n"
            while True:
                self.sock.sendall(part * 100)
        self.sock.sendall(response(*not_supported()))
        return True

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
