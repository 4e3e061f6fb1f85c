"""Replays go2rtc's Hikvision two-way-audio sequence on raw sockets, with its own Digest.

GET channels, PUT close, PUT open, PUT audioData (Content-Length: 0) then raw G.711 mu-law
bytes paced at 160 bytes per 20 ms, then close the audio socket and PUT close.
Usage: go2rtc_client.py HOST PORT USER PASSWORD SECONDS SENT_BYTES_PATH
Prints one JSON line: {"session_id": ..., "sent": N, "statuses": {...}}.
"""
import hashlib, json, math, os, re, socket, sys, time

host, port, user, password, seconds, sent_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6]


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class Conn:
    """One keep-alive connection for the control requests, like an HTTP client pool."""

    def __init__(self):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.buf = b""
        self.challenge = None
        self.nc = 0

    def read_response(self, sock=None):
        sock = sock or self.sock
        while b"\r\n\r\n" not in self.buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
        length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
        while len(self.buf) < length:
            self.buf += sock.recv(4096)
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body.decode()

    def auth(self, method, uri):
        if not self.challenge:
            return ""
        self.nc += 1
        c = self.challenge
        nc = "%08x" % self.nc
        cnonce = os.urandom(8).hex()
        ha1 = md5("%s:%s:%s" % (user, c["realm"], password))
        ha2 = md5("%s:%s" % (method, uri))
        resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, c["nonce"], nc, cnonce, ha2))
        return ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", qop=auth, nc=%s, cnonce="%s"\r\n') % (user, c["realm"], c["nonce"], uri, resp, nc, cnonce)

    def learn(self, status, headers):
        for k, v in headers:
            if status == 401 and k.lower() == "www-authenticate" and v.startswith("Digest"):
                self.challenge = dict(re.findall(r'(\w+)="?([^",]*)"?', v[len("Digest"):]))
                self.nc = 0

    def request(self, method, uri):
        for _ in range(2):
            req = "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: 0\r\n\r\n" % (method, uri, host, port, self.auth(method, uri))
            self.sock.sendall(req.encode())
            status, headers, body = self.read_response()
            self.learn(status, headers)
            if status != 401:
                return status, body
        return status, body


c = Conn()
statuses = {}
base = "/ISAPI/System/TwoWayAudio/channels"
statuses["channels"], _ = c.request("GET", base)
statuses["close_before"], _ = c.request("PUT", base + "/1/close")
statuses["open"], body = c.request("PUT", base + "/1/open")
m = re.search(r"<sessionId>([^<]*)</sessionId>", body)
session_id = m.group(1) if m else None
uri = base + "/1/audioData" + ("?sessionId=" + session_id if session_id else "")

audio = socket.create_connection((host, port), timeout=5)
req = ("PUT %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Type: application/octet-stream\r\n"
       "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n") % (uri, host, port, c.auth("PUT", uri))
audio.sendall(req.encode())
statuses["audio"], _, _ = c.read_response(audio)


def ulaw(sample):
    # G.711 mu-law encoder (ITU-T G.711), independent of hiktalk's codec.
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), 32635) + 0x84
    exponent = 7
    while exponent > 0 and not sample & (0x4000 >> (7 - exponent)):
        exponent -= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


sent = bytearray()
frames = int(seconds * 50)
start = time.monotonic()
n = 0
for f in range(frames):
    frame = bytes(ulaw(int(8000 * math.sin(2 * math.pi * 1000 * (n + i) / 8000))) for i in range(160))
    n += 160
    audio.sendall(frame)
    sent += frame
    delay = start + (f + 1) * 0.02 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
audio.close()
statuses["close"], _ = c.request("PUT", base + "/1/close" + ("?sessionId=" + session_id if session_id else ""))
with open(sent_path, "wb") as fh:
    fh.write(sent)
print(json.dumps({"session_id": session_id, "sent": len(sent), "statuses": statuses}))
