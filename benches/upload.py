"""The shell user's uploader, for `benches/stream.rs`: G.711 mu-law on stdin (as `ffmpeg -re ...
-f mulaw -` writes it, already paced) to a device's talk channel, written as it comes.

Opens channel 1 with Digest auth, PUTs audioData (Content-Length: 0) and streams stdin's bytes
on that socket, then closes the session. Python's standard library only.
Usage: upload.py HOST PORT USER PASSWORD
"""
import hashlib, os, re, socket, sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = "/ISAPI/System/TwoWayAudio/channels/1"
challenge, nc = None, 0


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def auth(method, uri):
    global nc
    if not challenge:
        return ""
    nc += 1
    cnonce = os.urandom(8).hex()
    ha1 = md5("%s:%s:%s" % (user, challenge["realm"], password))
    response = md5("%s:%s:%08x:%s:auth:%s" % (ha1, challenge["nonce"], nc, cnonce, md5("%s:%s" % (method, uri))))
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'qop=auth, nc=%08x, cnonce="%s"\r\n') % (user, challenge["realm"], challenge["nonce"], uri, response, nc, cnonce)


def exchange(sock, method, uri, extra=""):
    """One request; returns (status, body). Learns a Digest challenge from a 401."""
    global challenge, nc
    sock.sendall(("%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%sContent-Length: 0\r\n\r\n"
                  % (method, uri, host, port, auth(method, uri), extra)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "%s %s: the device closed the connection" % (method, uri)
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        if name.lower() == "www-authenticate" and value.strip().startswith("Digest"):
            challenge, nc = dict(re.findall(r'(\w+)="?([^",]*)"?', value)), 0
    while len(body) < length:
        body += sock.recv(4096)
    return int(lines[0].split()[1]), body.decode(errors="replace")


def request(sock, method, uri, extra=""):
    status, body = exchange(sock, method, uri, extra)
    if status == 401:
        status, body = exchange(sock, method, uri, extra)
    return status, body


control = socket.create_connection((host, port))
status, body = request(control, "PUT", base + "/open")
assert status == 200, "open: HTTP %d" % status
found = re.search(r"<sessionId>([^<]*)</sessionId>", body)
query = "?sessionId=" + found.group(1) if found else ""
audio = socket.create_connection((host, port))
status, _ = exchange(audio, "PUT", base + "/audioData" + query, "Content-Type: application/octet-stream\r\n")
assert status == 200, "audioData: HTTP %d" % status
stdin = sys.stdin.buffer.raw
while True:
    chunk = stdin.read(4096)
    if not chunk:
        break
    audio.sendall(chunk)
audio.close()
# The control connection sat idle while the audio played: the device may have dropped it.
control.close()
control = socket.create_connection((host, port))
status, _ = request(control, "PUT", base + "/close" + query)
assert status == 200, "close: HTTP %d" % status
