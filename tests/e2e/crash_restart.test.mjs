// e2e.crash_restart: restarting the server loses nothing that was acknowledged. Concurrent writers
// POST Patients, PUT Observations and POST transaction Bundles; the server is killed with SIGKILL in
// the middle of the load, restarted on the same data dir, and every write acknowledged with a 2xx must
// be there with the same content (vread), histories must be complete (versions 1..N without gaps),
// and each transaction must be all-or-nothing (all of it if it was acknowledged). Three kill/restart
// rounds, each verifying everything acknowledged in all rounds before it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';

import { makeTempDir, mapLimit, readAdminToken, sleep, startServer } from './harness.mjs';

const ROUNDS = 3;
const WRITERS = 6;
const OBS_PER_WRITER = 4; // Observation ids each writer keeps updating with PUT
const BATCH_SIZE = 5; // Observations per transaction Bundle
const MIN_ACKS_BEFORE_KILL = 100; // per round, then a random 200-1200 ms more
const BATCH_SYSTEM = 'urn:benhan:e2e:batch';
const MRN_SYSTEM = 'urn:benhan:e2e:crash-mrn';

function versionOfEtag(etag) {
  const m = /^W\/"(\d+)"$/.exec(etag ?? '');
  return m ? Number(m[1]) : null;
}

function parseLocation(location) {
  const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d+)$/.exec(location ?? '');
  return m ? { type: m[1], id: m[2], version: Number(m[3]) } : null;
}

// What the test knows was acknowledged, across all rounds.
class Ledger {
  constructor() {
    this.versions = new Map(); // "Type/id" -> Map(version -> stored JSON from the write response)
    this.maxAcked = new Map(); // "Type/id" -> highest acknowledged version
    this.patients = new Map(); // mrn -> { acked: bool, key }
    this.batches = new Map(); // batch id -> { acked: bool, keys: ["Observation/id", ...] }
    this.problems = []; // violations seen while writing (checked at the end of each round)
    this.statuses = new Map(); // "METHOD status" -> count, for the report
  }

  ack(type, id, version, body) {
    const key = `${type}/${id}`;
    if (!this.versions.has(key)) this.versions.set(key, new Map());
    const prior = this.maxAcked.get(key) ?? 0;
    if (version <= prior) {
      this.problems.push(`${key}: acknowledged version ${version} after version ${prior} had been acknowledged`);
    }
    this.versions.get(key).set(version, body);
    this.maxAcked.set(key, Math.max(prior, version));
  }

  count(what) {
    this.statuses.set(what, (this.statuses.get(what) ?? 0) + 1);
  }

  get ackCount() {
    let n = 0;
    for (const m of this.versions.values()) n += m.size;
    return n;
  }
}

function makeApi(baseUrl, token) {
  return async function call(method, url, body, headers = {}) {
    const res = await fetch(`${baseUrl}/${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/fhir+json',
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60000),
    });
    const text = await res.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = { unparsable: text.slice(0, 200) };
      }
    }
    return { status: res.status, headers: res.headers, json };
  };
}

// One writer: loops over random writes until stop() says so; records every 2xx in the ledger.
async function writer(w, round, call, ledger, shouldStop) {
  let seq = 0;
  while (!shouldStop()) {
    seq++;
    const pick = Math.random();
    try {
      if (pick < 0.4) {
        const mrn = `r${round}-w${w}-${seq}-${randomUUID().slice(0, 8)}`;
        ledger.patients.set(mrn, { acked: false, key: null });
        const r = await call('POST', 'Patient', {
          resourceType: 'Patient',
          identifier: [{ system: MRN_SYSTEM, value: mrn }],
          name: [{ family: `Crash${w}`, given: [`R${round}S${seq}`] }],
          birthDate: '1990-01-01',
        });
        ledger.count(`POST Patient ${r.status}`);
        if (r.status >= 200 && r.status < 300) {
          const loc = parseLocation(r.headers.get('location'));
          if (!loc || r.status !== 201) {
            ledger.problems.push(`POST Patient: ${r.status} with Location ${r.headers.get('location')}`);
            continue;
          }
          ledger.ack('Patient', loc.id, loc.version, r.json);
          ledger.patients.set(mrn, { acked: true, key: `Patient/${loc.id}` });
        }
      } else if (pick < 0.75) {
        const id = `crash-w${w}-o${Math.floor(Math.random() * OBS_PER_WRITER)}`;
        const r = await call('PUT', `Observation/${id}`, {
          resourceType: 'Observation',
          id,
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature' }] },
          valueQuantity: { value: 36 + Math.round(Math.random() * 40) / 10, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
          note: [{ text: `round ${round} writer ${w} seq ${seq}` }],
        });
        ledger.count(`PUT Observation ${r.status}`);
        if (r.status >= 200 && r.status < 300) {
          const v = versionOfEtag(r.headers.get('etag'));
          if (v === null || r.json?.meta?.versionId !== String(v)) {
            ledger.problems.push(`PUT Observation/${id}: ETag ${r.headers.get('etag')} vs body ${r.json?.meta?.versionId}`);
            continue;
          }
          ledger.ack('Observation', id, v, r.json);
        }
      } else {
        const batchId = `r${round}-w${w}-${seq}-${randomUUID().slice(0, 8)}`;
        ledger.batches.set(batchId, { acked: false, keys: [] });
        const entry = Array.from({ length: BATCH_SIZE }, (_, k) => ({
          fullUrl: `urn:uuid:${randomUUID()}`,
          resource: {
            resourceType: 'Observation',
            identifier: [{ system: BATCH_SYSTEM, value: batchId }],
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
            valueQuantity: { value: 60 + k, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
          },
          request: { method: 'POST', url: 'Observation' },
        }));
        const r = await call('POST', '', { resourceType: 'Bundle', type: 'transaction', entry }, { prefer: 'return=representation' });
        ledger.count(`POST transaction ${r.status}`);
        if (r.status >= 200 && r.status < 300) {
          const keys = [];
          for (const e of r.json?.entry ?? []) {
            const loc = parseLocation(e.response?.location);
            if (!loc) {
              ledger.problems.push(`transaction ${batchId}: entry without a location: ${JSON.stringify(e.response)}`);
              continue;
            }
            ledger.ack(loc.type, loc.id, loc.version, e.resource ?? null);
            keys.push(`${loc.type}/${loc.id}`);
          }
          if (keys.length !== BATCH_SIZE) {
            ledger.problems.push(`transaction ${batchId}: ${keys.length} response entries, not ${BATCH_SIZE}`);
          }
          ledger.batches.set(batchId, { acked: true, keys });
        }
      }
    } catch (e) {
      // The server was killed under this request (connection reset, socket closed): not acknowledged.
      if (!shouldStop()) ledger.problems.push(`writer ${w}: request failed while the server was up: ${e.cause?.code ?? e.message}`);
      ledger.count('network error');
    }
  }
}

// Everything acknowledged so far is readable, identical, with a gap-free history; every batch is
// all-or-nothing; every acknowledged Patient is found once by its identifier.
async function verify(call, ledger, label) {
  const failures = [];
  const fail = (msg) => {
    if (failures.length < 50) failures.push(msg);
  };
  const keys = [...ledger.versions.keys()];
  await mapLimit(keys, 8, async (key) => {
    const acked = ledger.versions.get(key);
    // History: every page, versions 1..N with N >= the highest acknowledged version.
    const seen = new Map();
    let url = `${key}/_history?_count=100`;
    while (url) {
      const r = await call('GET', url);
      if (r.status !== 200) return fail(`${key} history: HTTP ${r.status} ${JSON.stringify(r.json)}`);
      for (const e of r.json.entry ?? []) {
        const v = versionOfEtag(e.response?.etag);
        if (seen.has(v)) fail(`${key} history lists version ${v} twice`);
        seen.set(v, e.resource ?? null);
      }
      const next = (r.json.link ?? []).find((l) => l.relation === 'next');
      url = next ? next.url.slice(next.url.indexOf('/fhir/') + '/fhir/'.length) : null;
    }
    const n = Math.max(0, ...seen.keys());
    for (let v = 1; v <= n; v++) if (!seen.has(v)) fail(`${key} history has a gap: no version ${v} of ${n}`);
    const maxAcked = ledger.maxAcked.get(key);
    if (n < maxAcked) fail(`${key}: history ends at version ${n}, but version ${maxAcked} was acknowledged`);
    if (key.startsWith('Patient/') && n !== 1) fail(`${key}: a created Patient has ${n} versions`);
    for (const [v, body] of acked) {
      const r = await call('GET', `${key}/_history/${v}`);
      if (r.status !== 200) {
        fail(`${key}/_history/${v}: acknowledged, but vread gives HTTP ${r.status}`);
        continue;
      }
      if (body !== null) {
        try {
          assert.deepEqual(r.json, body);
          assert.deepEqual(seen.get(v), body);
        } catch {
          fail(`${key}/_history/${v}: content differs from the acknowledged write`);
        }
      }
    }
    const cur = await call('GET', key);
    if (cur.status !== 200 || versionOfEtag(cur.headers.get('etag')) !== n) {
      fail(`${key}: read gives HTTP ${cur.status} ETag ${cur.headers.get('etag')}, history ends at ${n}`);
    }
  });

  let half = 0;
  let committedUnacked = 0;
  await mapLimit([...ledger.batches.entries()], 8, async ([batchId, b]) => {
    const r = await call('GET', `Observation?identifier=${encodeURIComponent(`${BATCH_SYSTEM}|${batchId}`)}&_count=50`);
    if (r.status !== 200) return fail(`batch ${batchId} search: HTTP ${r.status}`);
    const found = (r.json.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `Observation/${e.resource.id}`);
    if (found.length !== 0 && found.length !== BATCH_SIZE) {
      half++;
      fail(`batch ${batchId} is half-applied: ${found.length} of ${BATCH_SIZE} Observations`);
    }
    if (b.acked) {
      if (found.length !== BATCH_SIZE) fail(`batch ${batchId} was acknowledged but ${found.length} Observations exist`);
      else if (JSON.stringify([...found].sort()) !== JSON.stringify([...b.keys].sort())) {
        fail(`batch ${batchId}: found ${found} but the response named ${b.keys}`);
      }
    } else if (found.length === BATCH_SIZE) {
      committedUnacked++;
    }
  });

  await mapLimit([...ledger.patients.entries()], 8, async ([mrn, p]) => {
    const r = await call('GET', `Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${mrn}`)}`);
    if (r.status !== 200) return fail(`Patient?identifier=${mrn}: HTTP ${r.status}`);
    const found = (r.json.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => `Patient/${e.resource.id}`);
    if (found.length > 1) fail(`Patient ${mrn} was created ${found.length} times`);
    if (p.acked && (found.length !== 1 || found[0] !== p.key)) {
      fail(`Patient ${mrn} (${p.key}) was acknowledged but search finds ${JSON.stringify(found)}`);
    }
  });

  const summary =
    `${label}: ${keys.length} resources, ${ledger.ackCount} acknowledged versions, ` +
    `${ledger.batches.size} batches (${half} half-applied, ${committedUnacked} committed without an ack)`;
  process.stderr.write(`# ${summary}\n`);
  assert.deepEqual(failures, [], summary);
}

test('kill -9 mid-load loses no acknowledged write (3 rounds)', { timeout: 280000 }, async () => {
  const tmp = makeTempDir('crash-restart');
  const dataDir = path.join(tmp.dir, 'data');
  const logFile = path.join(tmp.dir, 'server.log');
  const ledger = new Ledger();
  let ok = false;
  let server;
  try {
    server = await startServer({ dataDir, logFile });
    const token = readAdminToken(dataDir);
    for (let round = 1; round <= ROUNDS; round++) {
      const call = makeApi(server.baseUrl, token);
      const acksBefore = ledger.ackCount;
      let stop = false;
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w, round, call, ledger, () => stop));
      // Let the load run until enough writes are acknowledged, plus a random extra, then kill -9.
      const started = Date.now();
      while (ledger.ackCount - acksBefore < MIN_ACKS_BEFORE_KILL && Date.now() - started < 60000) await sleep(20);
      assert.ok(ledger.ackCount - acksBefore >= MIN_ACKS_BEFORE_KILL, `round ${round}: too few writes acknowledged in 60 s`);
      await sleep(200 + Math.random() * 1000);
      stop = true;
      const { signal } = await server.kill9();
      assert.equal(signal, 'SIGKILL');
      await Promise.all(writers);
      process.stderr.write(`# round ${round}: killed pid ${server.pid} after ${Date.now() - started} ms, ` +
        `${ledger.ackCount - acksBefore} writes acknowledged this round\n`);
      assert.deepEqual(ledger.problems, [], `round ${round}: problems while writing`);

      server = await startServer({ dataDir, logFile });
      assert.equal(readAdminToken(dataDir), token, 'the admin token changed across a restart');
      await verify(makeApi(server.baseUrl, token), ledger, `after kill ${round}`);
    }
    process.stderr.write(`# statuses: ${JSON.stringify(Object.fromEntries(ledger.statuses))}\n`);
    const statuses = [...ledger.statuses.keys()].filter((s) => / 5\d\d$/.test(s));
    assert.deepEqual(statuses, [], 'the server answered writes with 5xx');
    // stop() throws if SIGTERM does not end the process; the exit status itself is checked by
    // e2e.sigterm_clean_exit.
    await server.stop();
    server = null;
    ok = true;
  } finally {
    if (server) await server.kill9();
    tmp.done(ok);
  }
});
