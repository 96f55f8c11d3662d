#!/usr/bin/env python3
"""TLS for HTTP and MLLP on the real binary, with certificates made at test time (openssl CLI).

- A bad certificate path, a key that does not match its certificate, a client CA without a
  certificate: `benhan serve` exits at once with an error naming the config key and the file.
- HTTPS: curl with the test CA reads /fhir/metadata and a Patient search (bearer token); every
  response has the security headers (HSTS on HTTPS); plain HTTP to the HTTPS port gets a 400
  OperationOutcome saying to use https and the connection is closed; TLS 1.1 and a weak cipher
  (TLS 1.2 RSA key exchange) are refused at the handshake; the server keeps serving.
- MLLP over TLS with client certificates required (hl7v2.tls.client_ca): a client with a
  certificate from the CA gets its AA; one without a certificate, one with a certificate from
  another CA and one speaking plaintext MLLP get no ACK and change nothing.
- The outbound lab connection over TLS (hl7v2.lab_tls, the lab checks our client certificate):
  a ServiceRequest POSTed over HTTPS reaches a TLS lab as OML^O21 and its Task completes.
usage: tls_test.py BENHAN_BINARY
"""
import atexit, json, os, re, shutil, socket, ssl, subprocess, sys, tempfile, threading, time

BENHAN = sys.argv[1]
VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"
tmp = tempfile.mkdtemp(prefix="benhan-tls-")
procs = []


@atexit.register
def _stop_servers():
    for p in procs:
        if p.poll() is None:
            p.kill()


def fail(msg):
    for p in procs:
        if p.poll() is None:
            p.kill()
    sys.exit("FAIL: " + msg + " (files kept in " + tmp + ")")


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok:", msg)


def sh(*args):
    subprocess.run(args, check=True, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(name):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name)


def make_cert(name, ca, cn, san=None):
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
    ext = os.path.join(tmp, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % (san or "DNS:" + cn))
    sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
       "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext)


def p(name):
    return os.path.join(tmp, name)


make_ca("ca")
make_ca("otherca")
make_cert("server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
make_cert("client", "ca", "lis.benhan.test")
make_cert("rogue", "otherca", "rogue.test")
make_cert("lab", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")


def write_conf(name, lines):
    path = p(name)
    with open(path, "w") as f:
        f.write("".join(k + ": " + v + "\n" for k, v in lines))
    return path


# --- start-up errors -------------------------------------------------------------------------
for keys, expect in [
    ([("tls.cert", "/nonexistent/server.pem"), ("tls.key", p("server.key"))],
     ["tls.cert", "/nonexistent/server.pem", "No such file"]),
    ([("tls.cert", p("server.pem")), ("tls.key", p("client.key"))],
     ["tls.key", "does not match"]),
    ([("tls.cert", p("server.pem"))], ["tls.cert and tls.key must be given together"]),
    ([("tls.cert", p("ca.srl")), ("tls.key", p("server.key"))], ["tls.cert", "not a PEM"]),
    ([("hl7v2.mllp_listen", "127.0.0.1:0"), ("hl7v2.tls.cert", p("server.pem")),
      ("hl7v2.tls.key", p("server.key")), ("hl7v2.tls.client_ca", "/nonexistent/ca.pem")],
     ["hl7v2.tls.client_ca", "/nonexistent/ca.pem"]),
    ([("hl7v2.lab_destination", "LAB@127.0.0.1:9"), ("hl7v2.lab_tls", "true"),
      ("hl7v2.lab_tls.ca", "/nonexistent/lab-ca.pem")], ["hl7v2.lab_tls.ca", "/nonexistent/lab-ca.pem"]),
]:
    conf = write_conf("bad.conf", keys)
    t0 = time.time()
    r = subprocess.run([BENHAN, "serve", "--listen", "127.0.0.1:0", "--data", p("baddata"),
                        "--config", conf], capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and all(e in r.stderr for e in expect),
          "start-up refused with a clear error for %s: %s" % (keys[-1][0], r.stderr.strip()[-160:]))

# --- the server ------------------------------------------------------------------------------
lab_msgs = []
lab_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
lab_ctx.load_cert_chain(p("lab.pem"), p("lab.key"))
lab_ctx.load_verify_locations(p("ca.pem"))
lab_ctx.verify_mode = ssl.CERT_REQUIRED
lab_sock = socket.socket()
lab_sock.bind(("127.0.0.1", 0))
lab_sock.listen(8)
lab_port = lab_sock.getsockname()[1]
lab_peers = []


def lab_serve():
    while True:
        try:
            c, _ = lab_sock.accept()
        except OSError:
            return
        try:
            s = lab_ctx.wrap_socket(c, server_side=True)
            lab_peers.append(s.getpeercert()["subject"])
            buf = b""
            while FS not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            msg = buf.strip(VT).split(FS)[0].decode()
            lab_msgs.append(msg)
            ctrl = re.search(r"^MSH(?:\|[^|\r]*){8}\|([^|\r]*)", msg).group(1)
            ack = ("MSH|^~\\&|LAB|LAB|BENHAN|BV01|20250101||ACK^O21|A%s|P|2.5.1\rMSA|AA|%s\r" %
                   (ctrl, ctrl))
            s.sendall(VT + ack.encode() + FS + CR)
            s.close()
        except Exception as e:  # a failed handshake is the client's problem here
            print("lab:", e)


threading.Thread(target=lab_serve, daemon=True).start()

conf = write_conf("benhan.conf", [
    ("tls.cert", p("server.pem")), ("tls.key", p("server.key")),
    ("hl7v2.tls.cert", p("server.pem")), ("hl7v2.tls.key", p("server.key")),
    ("hl7v2.tls.client_ca", p("ca.pem")),
    ("hl7v2.lab_destination", "LAB@127.0.0.1:%d" % lab_port), ("hl7v2.lab_tls", "true"),
    ("hl7v2.lab_tls.ca", p("ca.pem")), ("hl7v2.lab_tls.cert", p("client.pem")),
    ("hl7v2.lab_tls.key", p("client.key")),
])
data = p("data")
srv = subprocess.Popen([BENHAN, "serve", "--listen", "127.0.0.1:0", "--data", data, "--config", conf,
                        "--mllp-listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
procs.append(srv)
http_port = mllp_port = None
deadline = time.time() + 120
log = []
while (http_port is None or mllp_port is None) and time.time() < deadline:
    line = srv.stderr.readline()
    if not line:
        break
    log.append(line)
    m = re.search(r"listening on https://127\.0\.0\.1:(\d+)/fhir", line)
    if m:
        http_port = int(m.group(1))
    m = re.search(r"\(MLLP over TLS\) listening on 127\.0\.0\.1:(\d+)", line)
    if m:
        mllp_port = int(m.group(1))
if http_port is None or mllp_port is None:
    fail("server did not start over TLS: " + "".join(log))
threading.Thread(target=lambda: [log.append(l) for l in srv.stderr], daemon=True).start()
token = open(os.path.join(data, "secrets", "admin.token")).read().strip()
base = "https://127.0.0.1:%d" % http_port


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--cacert", p("ca.pem"), "-D", "-", *args],
                       capture_output=True, text=True, timeout=30)
    head, _, body = r.stdout.partition("\n\n")  # text mode: \r\n became \n
    status = int(head.split()[1]) if head.startswith("HTTP/") else 0
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
               for l in head.split("\n")[1:] if ":" in l}
    return status, headers, body, r.stderr


st, h, body, err = curl(base + "/fhir/metadata")
check(st == 200 and '"resourceType":"CapabilityStatement"' in body,
      "curl reads /fhir/metadata over HTTPS (%d %s %r)" % (st, err, body[:200]))
for name, value in [("strict-transport-security", "max-age="), ("x-content-type-options", "nosniff"),
                    ("x-frame-options", "DENY"), ("content-security-policy", "frame-ancestors 'none'"),
                    ("referrer-policy", "no-referrer")]:
    check(value in h.get(name, ""), "HTTPS response has %s: %s" % (name, h.get(name)))
st, h, body, err = curl("-H", "Authorization: Bearer " + token, base + "/fhir/Patient?_count=1")
check(st == 200 and h.get("cache-control") == "no-store",
      "a search over HTTPS with the bearer token: 200, Cache-Control no-store")
check(json.loads(body)["link"][0]["url"].startswith("https://"), "Bundle links are https://")

# Plain HTTP to the HTTPS port.
s = socket.create_connection(("127.0.0.1", http_port), timeout=10)
s.sendall(b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n")
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
s.close()
check(got.startswith(b"HTTP/1.1 400") and b"https://" in got and b"OperationOutcome" in got,
      "plain HTTP to the HTTPS port: 400 OperationOutcome, connection closed")

# Old protocol and weak cipher refused.
for what, ctx in [("TLS 1.1", None), ("RSA key exchange (no forward secrecy)", None)]:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(p("ca.pem"))
    if what == "TLS 1.1":
        c.minimum_version = ssl.TLSVersion.TLSv1
        c.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            c.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
    else:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
        c.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256")
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", http_port), timeout=10) as raw:
            with c.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                t.sendall(b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n")
                refused = not t.recv(100)
    except (ssl.SSLError, ConnectionError, OSError):
        refused = True
    check(refused, what + " is refused at the handshake")
st, _, _, _ = curl(base + "/fhir/metadata")
check(st == 200, "the HTTPS server still serves")


# --- MLLP over TLS, client certificates required ---------------------------------------------
ADT = ("MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250101120000||ADT^A01^ADT_A01|%s|P|2.5.1\r"
       "EVN|A01|20250101120000\r"
       "PID|1||%s^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r"
       "PV1|1|I|NOI^101^1\r")


def mllp(ctx, ctrl, pid):
    """The ACK text, or None when the connection ends without one."""
    try:
        raw = socket.create_connection(("127.0.0.1", mllp_port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
        s.sendall(VT + (ADT % (ctrl, pid)).encode() + FS + CR)
        buf = b""
        while FS not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        s.close()
        return buf.strip(VT).split(FS)[0].decode()
    except (ssl.SSLError, ConnectionError, OSError, socket.timeout):
        return None


def client_ctx(cert=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(p("ca.pem"))
    if cert:
        c.load_cert_chain(p(cert + ".pem"), p(cert + ".key"))
    return c


ack = mllp(client_ctx("client"), "TLS0001", "079090001111")
check(ack is not None and "MSA|AA|TLS0001" in ack, "MLLP over TLS with a client certificate: AA")
check(mllp(client_ctx(), "TLS0002", "079090002222") is None,
      "MLLP over TLS without a client certificate: no ACK")
check(mllp(client_ctx("rogue"), "TLS0003", "079090003333") is None,
      "MLLP over TLS with a certificate from another CA: no ACK")
check(mllp(None, "TLS0004", "079090004444") is None, "plaintext MLLP to the TLS listener: no ACK")
for pid, want in [("079090001111", 1), ("079090002222", 0), ("079090003333", 0), ("079090004444", 0)]:
    st, _, body, _ = curl("-H", "Authorization: Bearer " + token,
                          base + "/fhir/Patient?identifier=" + pid + "&_summary=count")
    check(st == 200 and json.loads(body)["total"] == want,
          "Patient %s: %d stored (only the authenticated sender's)" % (pid, want))

# --- outbound to the lab over TLS --------------------------------------------------------------
st, _, body, _ = curl("-H", "Authorization: Bearer " + token, base + "/fhir/Patient?identifier=079090001111")
pid = json.loads(body)["entry"][0]["resource"]["id"]
sr = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
      "subject": {"reference": "Patient/" + pid},
      "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]}}
st, _, body, _ = curl("-H", "Authorization: Bearer " + token, "-H", "Content-Type: application/fhir+json",
                      "-X", "POST", "--data-binary", json.dumps(sr), base + "/fhir/ServiceRequest")
check(st == 201, "ServiceRequest created over HTTPS")
srid = json.loads(body)["id"]
status = None
for _ in range(150):
    st, _, body, _ = curl("-H", "Authorization: Bearer " + token, base + "/fhir/Task?focus=ServiceRequest/" + srid)
    b = json.loads(body)
    if b.get("entry"):
        status = b["entry"][0]["resource"]["status"]
        if status == "completed":
            break
    time.sleep(0.2)
check(status == "completed" and any("OML^O21" in m for m in lab_msgs),
      "the order reached the TLS lab as OML^O21 and its Task completed (%s)" % status)
check(any(("commonName", "lis.benhan.test") in [x for rdn in subj for x in rdn] for subj in lab_peers),
      "benhan presented its client certificate to the lab")

srv.terminate()
srv.wait(timeout=60)
lab_sock.close()
shutil.rmtree(tmp, ignore_errors=True)
print("PASS")
