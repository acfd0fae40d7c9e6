#!/usr/bin/env python3
"""bench/signin.py: sign in to a running Yizhan with HTTP SCRAM-SHA-256 (RFC 7804 over
RFC 5802/7677, docs/API.md) and print the session cookie as NAME=VALUE, for wrk's
-H "Cookie: ...". Standard library only.

Usage: signin.py --port PORT --address ADDR --cafile CERT.pem < password
The password is one line on stdin. The server signature is checked; exit 1 on any failure.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import secrets
import ssl
import sys

COOKIE = "__Host-yz_session"


def b64e(b):
    return base64.b64encode(b).decode("ascii")


def b64d(s):
    return base64.b64decode(s, validate=True)


def auth_params(value):
    """'SCRAM-SHA-256 sid=X, data="Y"' or 'sid=X, data=Y' -> {'sid': 'X', 'data': 'Y'}."""
    value = re.sub(r"^\s*SCRAM-SHA-256\s+", "", value, flags=re.I)
    out = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)', value):
        v = m.group(3) if m.group(3) is not None else m.group(2)
        out[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", v)
    return out


def post(conn, authorization):
    conn.request("POST", "/api/v1/session", body=b"",
                 headers={"Authorization": authorization, "Content-Length": "0"})
    r = conn.getresponse()
    body = r.read()
    return r, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--cafile", required=True)
    a = ap.parse_args()
    password = sys.stdin.readline().rstrip("\n").encode("utf-8")

    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
    conn = http.client.HTTPSConnection(a.host, a.port, context=ctx, timeout=30)

    user = a.address.replace("=", "=3D").replace(",", "=2C")
    cnonce = secrets.token_urlsafe(24)
    bare = "n=%s,r=%s" % (user, cnonce)
    r, body = post(conn, "SCRAM-SHA-256 data=" + b64e(("n,," + bare).encode()))
    if r.status != 401 or not r.getheader("WWW-Authenticate"):
        sys.exit("signin: step 1 answered %d %s" % (r.status, body[:200]))
    p = auth_params(r.getheader("WWW-Authenticate"))
    server_first = b64d(p["data"]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    if not attrs["r"].startswith(cnonce):
        sys.exit("signin: server nonce does not extend ours")

    salted = hashlib.pbkdf2_hmac("sha256", password, b64d(attrs["s"]), int(attrs["i"]))
    without_proof = "c=%s,r=%s" % (b64e(b"n,,"), attrs["r"])
    auth_msg = ("%s,%s,%s" % (bare, server_first, without_proof)).encode()
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = bytes(x ^ y for x, y in zip(client_key, sig))
    final = without_proof + ",p=" + b64e(proof)
    r, body = post(conn, "SCRAM-SHA-256 sid=%s, data=%s" % (p["sid"], b64e(final.encode())))
    if r.status != 200:
        sys.exit("signin: step 2 answered %d %s" % (r.status, body[:200]))

    info = auth_params(r.getheader("Authentication-Info") or "")
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = "v=" + b64e(hmac.new(server_key, auth_msg, hashlib.sha256).digest())
    if b64d(info.get("data", "")).decode() != want:
        sys.exit("signin: wrong server signature")
    for name, value in r.getheaders():
        if name.lower() == "set-cookie" and value.startswith(COOKIE + "="):
            print(value.split(";", 1)[0])
            nxt = json.loads(body).get("next")
            if nxt != "done":
                print("signin: note: session still needs %s" % nxt, file=sys.stderr)
            return
    sys.exit("signin: no %s cookie in the answer" % COOKIE)


if __name__ == "__main__":
    main()
