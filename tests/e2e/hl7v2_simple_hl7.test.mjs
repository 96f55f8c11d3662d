// e2e.hl7v2_simple_hl7: a real HL7 v2 peer from npm (simple-hl7, vendored in third_party/npm)
// sends ADT^A01 and ORU^R01 to `benhan serve --mllp-listen 127.0.0.1:0` over loopback; each gets
// an AA, and the Patient (found by its personal ID) and the results are readable over FHIR.
// The messages go through simple-hl7's own parser and writer before they are sent. Then a
// ServiceRequest POSTed over REST reaches the same peer, acting as the lab system
// (hl7v2.lab_destination), as OML^O21, and its Task shows the lab's ACK.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { makeTempDir, readAdminToken, sleep, sourceDir, startServer } from './harness.mjs';

const require = createRequire(import.meta.url);
const hl7 = require(path.join(sourceDir, 'third_party', 'npm', 'node_modules', 'simple-hl7'));

const ADT = [
  'MSH|^~\\&|HIS|BV01|BENHAN|BV01|20250101120000||ADT^A01|E2E-ADT-1|P|2.5.1',
  'EVN|A01|20250101120000',
  'PID|1||079090001234^^^BCA^CCCD~GD4797920012345^^^BHXH^HN||Nguyễn^Văn An^^^^^L||19900215|M',
  'PV1|1|I|NOI^101^1||||BS01^Trần^Bình||||||||||||V-E2E-1',
].join('\r');
const ORU = [
  'MSH|^~\\&|LIS|LAB|BENHAN|BV01|20250102080000||ORU^R01|E2E-ORU-1|P|2.5.1',
  'PID|1||079090001234^^^BCA^CCCD||Nguyễn^Văn An||19900215|M',
  'OBR|1|ORD-E2E|FIL-E2E|GLU^Glucose^L|||20250102070000|||||||||||||||20250102075500|||F',
  'OBX|1|NM|GLU^Glucose^L||5.4|mmol/L|3.9-6.1|N|||F',
  'OBX|2|NM|K^Kali^L||6.2|mmol/L|3.5-5.0|H|||F',
].join('\r');

function send(client, text) {
  const msg = new hl7.Parser({ segmentSeperator: '\r' }).parse(text);
  return new Promise((resolve, reject) => {
    client.send(msg, (err, ack) => (err ? reject(err) : resolve(ack)));
  });
}

test('simple-hl7 sends ADT and ORU over MLLP; benhan ACKs AA and stores them', async () => {
  const tmp = makeTempDir('hl7v2-simple-hl7');
  const dataDir = path.join(tmp.dir, 'data');
  let ok = false;
  let server;
  const received = [];
  const lis = hl7.Server.createTcpServer((err, req, res) => {
    if (err) return;
    received.push(req);
    res.end();
  });
  try {
    lis.start(0);
    await new Promise((resolve) => (lis.server.listening ? resolve() : lis.server.once('listening', resolve)));
    const lisPort = lis.server.address().port;
    const conf = path.join(tmp.dir, 'benhan.conf');
    fs.writeFileSync(conf, `hl7v2.lab_destination: LIS@127.0.0.1:${lisPort}\n`);
    server = await startServer({
      dataDir,
      logFile: path.join(tmp.dir, 'server.log'),
      extraArgs: ['--mllp-listen', '127.0.0.1:0', '--config', conf],
    });
    let mllpPort;
    for (let i = 0; i < 200 && !mllpPort; ++i) {
      const m = /\(MLLP\) listening on 127\.0\.0\.1:(\d+)/.exec(server.stderr());
      if (m) mllpPort = Number(m[1]);
      else await sleep(50);
    }
    assert.ok(mllpPort, 'the MLLP listener did not report its port');
    const client = hl7.Server.createTcpClient({ host: '127.0.0.1', port: mllpPort, keepalive: true });
    for (const text of [ADT, ORU]) {
      const ack = await send(client, text);
      const s = ack.toString();
      assert.match(s, /MSA\|AA\|E2E-/, `ACK: ${s}`);
    }
    client.close();

    const token = readAdminToken(dataDir);
    const get = async (q) => {
      const res = await fetch(`${server.baseUrl}/${q}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, q);
      return res.json();
    };
    const patients = await get('Patient?identifier=079090001234');
    assert.equal(patients.entry?.length, 1);
    assert.equal(patients.entry[0].resource.name[0].family, 'Nguyễn');
    const pid = patients.entry[0].resource.id;
    const obs = await get(`Observation?subject=Patient/${pid}&code=K`);
    assert.equal(obs.entry?.length, 1);
    assert.equal(obs.entry[0].resource.interpretation[0].coding[0].code, 'H');
    const enc = await get(`Encounter?subject=Patient/${pid}`);
    assert.equal(enc.entry?.length, 1);

    // An order created over REST goes out to the lab as OML^O21.
    const post = await fetch(`${server.baseUrl}/ServiceRequest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'ServiceRequest', status: 'active', intent: 'order',
        subject: { reference: `Patient/${pid}` },
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
      }),
    });
    assert.equal(post.status, 201);
    const sr = await post.json();
    let task;
    for (let i = 0; i < 100; ++i) {
      const t = await get(`Task?focus=ServiceRequest/${sr.id}`);
      task = t.entry?.[0]?.resource;
      if (task?.status === 'completed') break;
      await sleep(100);
    }
    assert.equal(task?.status, 'completed', `Task: ${JSON.stringify(task)}`);
    assert.equal(received.length, 1);
    assert.equal(received[0].type, 'OML');
    assert.equal(received[0].event, 'O21');
    assert.match(received[0].raw, /PID\|1\|\|079090001234\^\^\^BCA\^CCCD/);
    assert.match(received[0].raw, /OBR\|1\|[^|]+\|\|2345-7\^Glucose\^LN/);
    ok = true;
  } finally {
    lis.server?.close();
    if (server) await server.stop();
    tmp.done(ok);
  }
});
