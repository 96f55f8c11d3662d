#!/usr/bin/env python3
"""HL7 v2: killing the server during a stream of messages loses none that were ACKed.

Starts `benhan serve --mllp-listen 127.0.0.1:0` on a temp data dir, streams ORU^R01 messages over
MLLP on 4 connections, SIGKILLs the server (by its PID) mid-stream, restarts it on the same data
directory and checks through the FHIR API that every ACKed message's raw copy (Binary) and
DiagnosticReport are there. Then, like a real sender, it resends every message that was not ACKed
plus all ACKed ones: each gets AA, and nothing is applied twice (one DiagnosticReport per message).
usage: kill_test.py BENHAN_BINARY
"""
import hashlib, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

BENHAN = sys.argv[1]
VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"


def start(data):
    p = subprocess.Popen([BENHAN, "serve", "--listen", "127.0.0.1:0", "--data", data,
                          "--mllp-listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    http = mllp = None
    deadline = time.time() + 120
    while (http is None or mllp is None) and time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/fhir", line)
        if m:
            http = int(m.group(1))
        m = re.search(r"\(MLLP\) listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            mllp = int(m.group(1))
    if http is None or mllp is None:
        p.kill()
        sys.exit("FAIL: server did not start")
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, http, mllp


def oru(n):
    ctrl = "K%05d" % n
    return ctrl, ("MSH|^~\\&|LIS|LAB|BENHAN|BV01|20250102080000||ORU^R01|%s|P|2.5.1\r"
                  "PID|1||0790900%05d^^^BCA^CCCD||Nguyễn^Văn An||19900215|M\r"
                  "OBR|1|P%s|F%s|CBC^CBC^L|||20250102070000|||||||||||||||20250102075500|||F\r"
                  "OBX|1|NM|WBC^WBC^L||7.%d|10*9/L|3.5-10.5|N|||F\r" % (ctrl, n % 50, ctrl, ctrl, n % 10)).encode()


def send_and_ack(sock, msg, buf):
    sock.sendall(VT + msg + FS + CR)
    while FS not in buf[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf[0] += chunk
    frame, _, rest = buf[0].partition(FS + CR)
    buf[0] = rest
    return frame.lstrip(VT).decode()


def binary_id(ctrl):
    return "h7-" + hashlib.sha256(("raw|LIS|LAB|" + ctrl).encode()).hexdigest()[:40]


def get(http, token, path):
    req = urllib.request.Request("http://127.0.0.1:%d/fhir/%s" % (http, path),
                                 headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def main():
    data = tempfile.mkdtemp(prefix="benhan-hl7kill-")
    ok = False
    try:
        p, http, port = start(data)
        acked, lock, stop = set(), threading.Lock(), threading.Event()
        total = 4 * 100000

        def sender(k):
            s = socket.create_connection(("127.0.0.1", port))
            buf = [b""]
            n = k
            try:
                while not stop.is_set() and n < total:
                    ctrl, msg = oru(n)
                    ack = send_and_ack(s, msg, buf)
                    if "MSA|AA|" + ctrl in ack:
                        with lock:
                            acked.add(n)
                    n += 4
            except (ConnectionError, OSError):
                pass
            with lock:
                sent_upto[k] = n
        sent_upto = {}
        ts = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        while len(acked) < 200:
            time.sleep(0.01)
        p.kill()  # SIGKILL, our own child, mid-stream
        p.wait()
        stop.set()
        for t in ts:
            t.join()
        sent = max(sent_upto.values()) + 1
        print("ACKed before the kill: %d (messages attempted up to #%d)" % (len(acked), sent))

        p, http, port = start(data)
        token = open(os.path.join(data, "secrets", "admin.token")).read().strip()
        missing = [n for n in sorted(acked) if get(http, token, "Binary/" + binary_id(oru(n)[0]))[0] != 200]
        if missing:
            sys.exit("FAIL: %d ACKed messages lost, e.g. %s" % (len(missing), missing[:5]))
        st, b = get(http, token, "DiagnosticReport?_summary=count")
        if b["total"] < len(acked):
            sys.exit("FAIL: %d DiagnosticReports for %d ACKed messages" % (b["total"], len(acked)))
        # The sender retries everything (ACKed ones are duplicates): all AA, nothing applied twice.
        s = socket.create_connection(("127.0.0.1", port))
        buf = [b""]
        for n in range(sent):
            ctrl, msg = oru(n)
            if "MSA|AA|" + ctrl not in send_and_ack(s, msg, buf):
                sys.exit("FAIL: resent message %s not AA" % ctrl)
        st, b = get(http, token, "DiagnosticReport?_summary=count")
        if b["total"] != sent:
            sys.exit("FAIL: %d DiagnosticReports after resending %d messages" % (b["total"], sent))
        print("OK: all %d ACKed messages survived SIGKILL; after resending, %d messages -> %d "
              "DiagnosticReports" % (len(acked), sent, b["total"]))
        p.terminate()
        p.wait()
        ok = True
    finally:
        if ok:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print("data directory kept: " + data)


main()
