#!/usr/bin/env python3
# s3_sigv4_verifier.py -- a strict AWS Signature V4 checker in front of an
# S3 server that does not check signatures itself (s3rver).  It recomputes
# every request's canonical request and signature, rejects anonymous
# requests, a missing x-amz-content-sha256, a body hash mismatch and any
# signature mismatch with 403 (printing the canonical request it expected on
# stderr), and forwards good requests to the upstream server.  Python
# standard library only; listens on 127.0.0.1.
#
# usage: s3_sigv4_verifier.py LISTEN_PORT UPSTREAM_PORT ACCESS_KEY SECRET
import hashlib, hmac, sys, http.client, re
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import unquote, quote
LPORT, UPORT, AK, SK = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def enc(s, safe): return quote(s, safe=safe)
def canonical_request(method, raw_path, raw_query, headers, signed, payload_hash):
    cpath = enc(unquote(raw_path), safe="/-_.~") or "/"
    pairs = []
    if raw_query:
        for p in raw_query.split("&"):
            k, _, v = p.partition("=")
            pairs.append((enc(unquote(k), "-_.~"), enc(unquote(v), "-_.~")))
    cquery = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    hmap = {}
    for k, v in headers: hmap.setdefault(k.lower(), []).append(re.sub(r"\s+", " ", v.strip()))
    chead = "".join(f"{h}:{','.join(hmap.get(h, []))}\n" for h in signed)
    return "\n".join([method, cpath, cquery, chead, ";".join(signed), payload_hash])
def sign(secret, date, region, service, sts):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for m in (region, service, "aws4_request"): k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
def verify(method, target, headers, body):
    h = {k.lower(): v for k, v in headers}
    auth = h.get("authorization")
    if not auth: return "no Authorization header (anonymous request)"
    m = re.match(r"AWS4-HMAC-SHA256\s+Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})", auth)
    if not m: return "malformed Authorization"
    ak, date, region, service, signed, sig = m.groups()
    if ak != AK: return "unknown access key"
    amzdate = h.get("x-amz-date")
    if not amzdate or not amzdate.startswith(date): return "missing/mismatched x-amz-date"
    ph = h.get("x-amz-content-sha256")
    if not ph: return "missing x-amz-content-sha256"
    if ph != "UNSIGNED-PAYLOAD" and ph != hashlib.sha256(body).hexdigest(): return "payload hash mismatch"
    raw_path, _, raw_query = target.partition("?")
    creq = canonical_request(method, raw_path, raw_query, headers, signed.split(";"), ph)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, f"{date}/{region}/{service}/aws4_request", hashlib.sha256(creq.encode()).hexdigest()])
    return None if hmac.compare_digest(sign(SK, date, region, service, sts), sig) else "SignatureDoesNotMatch; expected canonical request:\n" + creq
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0); body = self.rfile.read(n) if n else b""
        err = verify(self.command, self.path, list(self.headers.items()), body)
        if err:
            sys.stderr.write(f"REJECT {self.command} {self.path}: {err}\n")
            msg = f"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>{err}</Message></Error>".encode()
            self.send_response(403); self.send_header("Content-Type", "application/xml"); self.send_header("Content-Length", str(len(msg))); self.end_headers()
            if self.command != "HEAD": self.wfile.write(msg)
            return
        c = http.client.HTTPConnection("127.0.0.1", UPORT, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "expect")}
        c.request(self.command, self.path, body=body if (n or self.command in ("PUT", "POST")) else None, headers=hdrs)
        r = c.getresponse()
        # Headers first, then the body as it arrives (with upstream's own
        # Content-Length), so a client sees exactly what the server sent,
        # including an answer whose body never comes.
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "keep-alive", "date"): self.send_header(k, v)
        whole = None
        if r.getheader("Content-Length") is None:  # chunked: buffer it
            whole = r.read() if self.command != "HEAD" else b""
            self.send_header("Content-Length", str(len(whole)))
        self.end_headers()
        if whole is not None:
            if whole: self.wfile.write(whole)
            c.close()
            return
        try:
            while self.command != "HEAD":
                chunk = r.read1(65536)
                if not chunk: break
                self.wfile.write(chunk)
            self.wfile.flush()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
        c.close()
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
ThreadingHTTPServer(("127.0.0.1", LPORT), H).serve_forever()
