// e2e.fhir_kit_client: drives a real benhan server (token mode, port 0, fresh data dir) with the
// fhir-kit-client npm package, as a third-party FHIR client would: CRUD, vread, history, search,
// transactions with urn:uuid references, conditional create, delete/410, 401 and 412, and a
// Synthea patient bundle posted as a transaction.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { makeTempDir, readAdminToken, sharedDataDir, sourceDir, startServer } from './harness.mjs';

// fhir-kit-client is ESM-only; load it from the vendored tree (third_party/npm), not a node_modules
// next to the test.
const fhirKitEntry = path.join(sourceDir, 'third_party', 'npm', 'node_modules', 'fhir-kit-client', 'dist', 'index.js');
const { Client } = await import(pathToFileURL(fhirKitEntry).href);

const syntheaDir = path.join(sharedDataDir, 'synthea', 'r4-bundles');

// Status and headers of the HTTP response behind a fhir-kit-client result.
function httpOf(result) {
  return Client.httpFor(result).response;
}

// Runs fn, which must fail with an HTTP error of the given status; returns the error's body.
async function expectStatus(status, fn) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected HTTP ${status}, but the request succeeded`);
  assert.ok(err.response, `expected HTTP ${status}, got a non-HTTP error: ${err.stack}`);
  assert.equal(err.response.status, status, `body: ${JSON.stringify(err.response.data)}`);
  return err.response.data;
}

function assertOperationOutcome(body) {
  assert.equal(body?.resourceType, 'OperationOutcome', JSON.stringify(body));
  assert.ok(Array.isArray(body.issue) && body.issue.length > 0, JSON.stringify(body));
}

// "Patient/abc/_history/2" (or an absolute URL ending so) -> { type, id, version }.
function parseLocation(location) {
  const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d+)$/.exec(location ?? '');
  assert.ok(m, `not a versioned location: ${location}`);
  return { type: m[1], id: m[2], version: m[3] };
}

function patientBody(family, given, identifierValue) {
  const p = {
    resourceType: 'Patient',
    active: true,
    name: [{ family, given: [given] }],
    gender: 'female',
    birthDate: '1980-04-02',
  };
  if (identifierValue) p.identifier = [{ system: 'urn:benhan:e2e:mrn', value: identifierValue }];
  return p;
}

async function countOf(client, resourceType, searchParams = {}) {
  const b = await client.search({ resourceType, searchParams: { ...searchParams, _summary: 'count' } });
  assert.equal(b.resourceType, 'Bundle');
  assert.equal(typeof b.total, 'number', `no total in ${JSON.stringify(b)}`);
  return b.total;
}

describe('fhir-kit-client against benhan', () => {
  const tmp = makeTempDir('fhir-kit-client');
  const dataDir = path.join(tmp.dir, 'data');
  let server;
  let client;
  let ok = true;
  // Wraps a test body so a failure keeps the temp dir.
  const step = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (e) {
      ok = false;
      throw e;
    }
  };

  before(async () => {
    try {
      server = await startServer({ dataDir, logFile: path.join(tmp.dir, 'server.log') });
      const token = readAdminToken(dataDir);
      assert.ok(token.length >= 16, 'the admin token is too short');
      client = new Client({ baseUrl: server.baseUrl, customHeaders: { Authorization: `Bearer ${token}` } });
    } catch (e) {
      ok = false;
      throw e;
    }
  });

  after(async () => {
    // stop() throws if SIGTERM does not end the process; the exit status itself is checked by
    // e2e.sigterm_clean_exit.
    try {
      if (server) await server.stop();
    } catch (e) {
      ok = false;
      throw e;
    } finally {
      tmp.done(ok);
    }
  });

  test('token file is private and metadata needs no token', step(async () => {
    const mode = fs.statSync(path.join(dataDir, 'secrets', 'admin.token')).mode & 0o777;
    assert.equal(mode, 0o600, `admin.token mode is ${mode.toString(8)}`);
    const anonymous = new Client({ baseUrl: server.baseUrl });
    const cap = await anonymous.capabilityStatement();
    assert.equal(cap.resourceType, 'CapabilityStatement');
    assert.equal(cap.fhirVersion, '4.0.1');
  }));

  test('401 without or with a wrong token', step(async () => {
    const created = await client.create({ resourceType: 'Patient', body: patientBody('Auth', 'Probe') });
    const anonymous = new Client({ baseUrl: server.baseUrl });
    for (const c of [anonymous, new Client({ baseUrl: server.baseUrl, bearerToken: 'not-the-token' })]) {
      assertOperationOutcome(await expectStatus(401, () => c.read({ resourceType: 'Patient', id: created.id })));
      await expectStatus(401, () => c.create({ resourceType: 'Patient', body: patientBody('Auth', 'Intruder') }));
      await expectStatus(401, () => c.search({ resourceType: 'Patient' }));
    }
    // Nothing was written by the rejected creates.
    assert.equal(await countOf(client, 'Patient', { family: 'Auth' }), 1);
  }));

  test('create, read, update, vread, patch, instance history', step(async () => {
    const created = await client.create({ resourceType: 'Patient', body: patientBody('Tran', 'Lan') });
    const res = httpOf(created);
    assert.equal(res.status, 201);
    assert.ok(created.id, 'server assigned no id');
    assert.equal(created.meta?.versionId, '1');
    assert.ok(created.meta?.lastUpdated, 'no meta.lastUpdated');
    assert.equal(res.headers.get('etag'), 'W/"1"');
    const loc = parseLocation(res.headers.get('location'));
    assert.deepEqual(loc, { type: 'Patient', id: created.id, version: '1' });

    const read = await client.read({ resourceType: 'Patient', id: created.id });
    assert.deepEqual(read, created);
    assert.equal(httpOf(read).headers.get('etag'), 'W/"1"');

    const changed = { ...read, name: [{ family: 'Tran', given: ['Lan', 'Thi'] }] };
    const updated = await client.update({ resourceType: 'Patient', id: created.id, body: changed });
    assert.equal(httpOf(updated).status, 200);
    assert.equal(updated.meta.versionId, '2');
    assert.deepEqual(updated.name, changed.name);

    const v1 = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
    assert.deepEqual(v1, created);
    const v2 = await client.vread({ resourceType: 'Patient', id: created.id, version: '2' });
    assert.deepEqual(v2, updated);
    await expectStatus(404, () => client.vread({ resourceType: 'Patient', id: created.id, version: '9' }));

    const patched = await client.patch({
      resourceType: 'Patient',
      id: created.id,
      jsonPatch: [{ op: 'replace', path: '/gender', value: 'other' }],
    });
    assert.equal(patched.gender, 'other');
    assert.equal(patched.meta.versionId, '3');

    const hist = await client.history({ resourceType: 'Patient', id: created.id });
    assert.equal(hist.resourceType, 'Bundle');
    assert.equal(hist.type, 'history');
    assert.equal(hist.total, 3);
    const versions = hist.entry.map((e) => e.resource.meta.versionId);
    assert.deepEqual([...versions].sort(), ['1', '2', '3']);
    for (const e of hist.entry) {
      assert.equal(e.resource.id, created.id);
      assert.equal(e.response.etag, `W/"${e.resource.meta.versionId}"`);
    }
    const byVersion = Object.fromEntries(hist.entry.map((e) => [e.resource.meta.versionId, e.resource]));
    assert.deepEqual(byVersion['1'], created);
    assert.deepEqual(byVersion['2'], updated);
    assert.deepEqual(byVersion['3'], patched);
  }));

  test('update with a client id creates; stale If-Match gives 412 and changes nothing', step(async () => {
    const id = `e2e-${randomUUID().slice(0, 8)}`;
    const first = await client.update({ resourceType: 'Patient', id, body: { ...patientBody('Le', 'Minh'), id } });
    assert.equal(httpOf(first).status, 201);
    assert.equal(first.id, id);
    assert.equal(first.meta.versionId, '1');
    const second = await client.update({
      resourceType: 'Patient',
      id,
      body: { ...first, active: false },
      options: { headers: { 'If-Match': 'W/"1"' } },
    });
    assert.equal(second.meta.versionId, '2');

    const stale = await expectStatus(412, () =>
      client.update({
        resourceType: 'Patient',
        id,
        body: { ...first, gender: 'male' },
        options: { headers: { 'If-Match': 'W/"1"' } },
      }),
    );
    assertOperationOutcome(stale);
    await expectStatus(412, () =>
      client.delete({ resourceType: 'Patient', id, options: { headers: { 'If-Match': 'W/"1"' } } }),
    );
    const now = await client.read({ resourceType: 'Patient', id });
    assert.deepEqual(now, second, 'a rejected If-Match write changed the resource');
  }));

  test('type history includes creates, updates and deletes', step(async () => {
    // Basic is used by nothing else in this test, so its type history is exactly what happens here.
    const basic = (text) => ({ resourceType: 'Basic', code: { text } });
    const a = await client.create({ resourceType: 'Basic', body: basic('a') });
    const b = await client.create({ resourceType: 'Basic', body: basic('b') });
    const a2 = await client.update({ resourceType: 'Basic', id: a.id, body: { ...a, code: { text: 'a2' } } });
    await client.delete({ resourceType: 'Basic', id: b.id });

    const hist = await client.history({ resourceType: 'Basic' });
    assert.equal(hist.type, 'history');
    assert.equal(hist.total, 4);
    const seen = hist.entry.map((e) => `${e.request.method} ${e.fullUrl.split('/').slice(-2).join('/')} ${e.response.etag}`);
    assert.deepEqual(seen.sort(), [
      `DELETE Basic/${b.id} W/"2"`,
      `POST Basic/${a.id} W/"1"`,
      `POST Basic/${b.id} W/"1"`,
      `PUT Basic/${a.id} W/"2"`,
    ].sort());
    const deleted = hist.entry.find((e) => e.request.method === 'DELETE');
    assert.equal(deleted.resource, undefined, 'a delete history entry carries a resource');
    const put = hist.entry.find((e) => e.request.method === 'PUT');
    assert.deepEqual(put.resource, a2);

    // _count pages the type history; following next links visits every entry exactly once.
    const pages = [];
    let page = await client.request('Basic/_history?_count=3');
    while (page) {
      pages.push(...page.entry.map((e) => `${e.fullUrl} ${e.response.etag}`));
      assert.ok(page.entry.length <= 3);
      page = await client.nextPage({ bundle: page });
    }
    assert.equal(pages.length, 4);
    assert.equal(new Set(pages).size, 4);
  }));

  test('search by name and identifier, with paging', step(async () => {
    const family = `Pham${randomUUID().slice(0, 8)}`;
    const ids = [];
    for (const given of ['An', 'Binh', 'Chi']) {
      const p = await client.create({ resourceType: 'Patient', body: patientBody(family, given, `${family}-${given}`) });
      ids.push(p.id);
    }
    const all = await client.search({ resourceType: 'Patient', searchParams: { family } });
    assert.equal(all.type, 'searchset');
    assert.equal(all.total, 3);
    assert.deepEqual(all.entry.map((e) => e.resource.id).sort(), [...ids].sort());
    for (const e of all.entry) assert.equal(e.search.mode, 'match');

    const one = await client.search({
      resourceType: 'Patient',
      searchParams: { identifier: `urn:benhan:e2e:mrn|${family}-Binh` },
    });
    assert.equal(one.total, 1);
    assert.equal(one.entry[0].resource.id, ids[1]);

    const given = await client.search({ resourceType: 'Patient', searchParams: { family, given: 'chi' } });
    assert.deepEqual(given.entry.map((e) => e.resource.id), [ids[2]]);

    const paged = [];
    let page = await client.search({ resourceType: 'Patient', searchParams: { family, _count: 2 } });
    assert.equal(page.entry.length, 2);
    while (page) {
      paged.push(...page.entry.map((e) => e.resource.id));
      page = await client.nextPage({ bundle: page });
    }
    assert.deepEqual([...paged].sort(), [...ids].sort());

    const none = await client.search({ resourceType: 'Patient', searchParams: { family: `${family}x` } });
    assert.equal(none.total, 0);
    assert.equal(none.entry?.length ?? 0, 0);
  }));

  test('transaction rewrites urn:uuid references', step(async () => {
    const patientUrn = `urn:uuid:${randomUUID()}`;
    const encounterUrn = `urn:uuid:${randomUUID()}`;
    const obsUrn = `urn:uuid:${randomUUID()}`;
    const family = `Vo${randomUUID().slice(0, 8)}`;
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: obsUrn,
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
            subject: { reference: patientUrn },
            encounter: { reference: encounterUrn },
            valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
          },
          request: { method: 'POST', url: 'Observation' },
        },
        {
          fullUrl: patientUrn,
          resource: patientBody(family, 'Hoa'),
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: encounterUrn,
          resource: {
            resourceType: 'Encounter',
            status: 'finished',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
            subject: { reference: patientUrn },
          },
          request: { method: 'POST', url: 'Encounter' },
        },
      ],
    };
    const resp = await client.transaction({ body: bundle });
    assert.equal(resp.resourceType, 'Bundle');
    assert.equal(resp.type, 'transaction-response');
    assert.equal(resp.entry.length, 3);
    const locs = resp.entry.map((e) => {
      assert.match(e.response.status, /^201/);
      return parseLocation(e.response.location);
    });
    assert.deepEqual(locs.map((l) => l.type), ['Observation', 'Patient', 'Encounter']);

    const obs = await client.read({ resourceType: 'Observation', id: locs[0].id });
    assert.equal(obs.subject.reference, `Patient/${locs[1].id}`);
    assert.equal(obs.encounter.reference, `Encounter/${locs[2].id}`);
    const patient = await client.read({ resourceType: 'Patient', id: locs[1].id });
    assert.equal(patient.name[0].family, family);
    const enc = await client.read({ resourceType: 'Encounter', id: locs[2].id });
    assert.equal(enc.subject.reference, `Patient/${locs[1].id}`);

    // The rewritten references are indexed: search by subject finds the Observation.
    const bySubject = await client.search({ resourceType: 'Observation', searchParams: { subject: `Patient/${locs[1].id}` } });
    assert.deepEqual(bySubject.entry.map((e) => e.resource.id), [locs[0].id]);
  }));

  test('a transaction with a stale ifMatch fails with 412 and writes nothing', step(async () => {
    const family = `Dang${randomUUID().slice(0, 8)}`;
    const existing = await client.create({ resourceType: 'Patient', body: patientBody(family, 'Existing') });
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: `urn:uuid:${randomUUID()}`, resource: patientBody(family, 'New'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { ...existing, active: false },
          request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"7"' },
        },
      ],
    };
    assertOperationOutcome(await expectStatus(412, () => client.transaction({ body: bundle })));
    assert.equal(await countOf(client, 'Patient', { family }), 1, 'a failed transaction left a Patient behind');
    assert.deepEqual(await client.read({ resourceType: 'Patient', id: existing.id }), existing);
  }));

  test('conditional create with If-None-Exist', step(async () => {
    const mrn = `cc-${randomUUID()}`;
    const headers = { 'If-None-Exist': `identifier=urn:benhan:e2e:mrn|${mrn}` };
    const first = await client.create({ resourceType: 'Patient', body: patientBody('Bui', 'One', mrn), options: { headers } });
    assert.equal(httpOf(first).status, 201);
    const second = await client.create({ resourceType: 'Patient', body: patientBody('Bui', 'Two', mrn), options: { headers } });
    assert.equal(httpOf(second).status, 200);
    // The existing resource is returned, unchanged, still at version 1.
    assert.equal(second.id, first.id);
    assert.equal(second.meta?.versionId, '1');
    assert.equal(await countOf(client, 'Patient', { identifier: `urn:benhan:e2e:mrn|${mrn}` }), 1);
    const hist = await client.history({ resourceType: 'Patient', id: first.id });
    assert.equal(hist.total, 1);
  }));

  test('delete, then read gives 410 and the old version stays readable', step(async () => {
    const p = await client.create({ resourceType: 'Patient', body: patientBody('Do', 'Gone') });
    const del = await client.delete({ resourceType: 'Patient', id: p.id });
    assert.ok([200, 204].includes(httpOf(del).status), `delete status ${httpOf(del).status}`);
    assertOperationOutcome(await expectStatus(410, () => client.read({ resourceType: 'Patient', id: p.id })));
    const v1 = await client.vread({ resourceType: 'Patient', id: p.id, version: '1' });
    assert.deepEqual(v1, p);
    const hist = await client.history({ resourceType: 'Patient', id: p.id });
    assert.equal(hist.total, 2);
    assert.deepEqual(hist.entry.map((e) => e.request.method).sort(), ['DELETE', 'POST']);
    const search = await client.search({ resourceType: 'Patient', searchParams: { _id: p.id } });
    assert.equal(search.total, 0, 'a deleted resource is still found by search');
    await expectStatus(404, () => client.read({ resourceType: 'Patient', id: `never-${randomUUID().slice(0, 8)}` }));
  }));

  test('Synthea patient bundle as a transaction', step(async (t) => {
    if (!fs.existsSync(syntheaDir)) {
      t.skip(`shared data absent: ${syntheaDir} does not exist`);
      return;
    }
    const files = fs.readdirSync(syntheaDir).filter((f) => f.endsWith('.json')).sort();
    if (files.length === 0) {
      t.skip(`no Synthea bundles in ${syntheaDir}`);
      return;
    }
    const bundle = JSON.parse(fs.readFileSync(path.join(syntheaDir, files[0]), 'utf8'));
    assert.equal(bundle.type, 'transaction');
    const expected = {};
    for (const e of bundle.entry) expected[e.resource.resourceType] = (expected[e.resource.resourceType] ?? 0) + 1;
    const before = {};
    for (const type of Object.keys(expected)) before[type] = await countOf(client, type);

    const resp = await client.transaction({ body: bundle });
    assert.equal(resp.type, 'transaction-response');
    assert.equal(resp.entry.length, bundle.entry.length);
    const locs = resp.entry.map((e) => {
      assert.match(e.response.status, /^20[01]/);
      return parseLocation(e.response.location);
    });
    locs.forEach((l, i) => assert.equal(l.type, bundle.entry[i].resource.resourceType));

    for (const [type, n] of Object.entries(expected)) {
      assert.equal(await countOf(client, type), before[type] + n, `${type} count after the transaction`);
    }
    const patientIdx = bundle.entry.findIndex((e) => e.resource.resourceType === 'Patient');
    const patientId = locs[patientIdx].id;
    const patient = await client.read({ resourceType: 'Patient', id: patientId });
    assert.equal(patient.name[0].family, bundle.entry[patientIdx].resource.name[0].family);
    // Every clinical resource that points at the patient is found through the rewritten reference.
    for (const type of ['Observation', 'Encounter', 'Condition', 'Immunization', 'Procedure']) {
      if (!expected[type]) continue;
      const patientUrl = bundle.entry[patientIdx].fullUrl;
      const n = bundle.entry.filter(
        (e) => e.resource.resourceType === type && (e.resource.subject ?? e.resource.patient)?.reference === patientUrl,
      ).length;
      assert.equal(await countOf(client, type, { patient: patientId }), n, `${type}?patient=${patientId}`);
    }
    // No urn:uuid survives in a stored resource.
    const everyObs = [];
    let page = await client.search({ resourceType: 'Observation', searchParams: { patient: patientId, _count: 50 } });
    while (page) {
      everyObs.push(...page.entry.map((e) => e.resource));
      page = await client.nextPage({ bundle: page });
    }
    assert.equal(everyObs.length, expected.Observation ?? 0);
    for (const o of everyObs) {
      assert.doesNotMatch(JSON.stringify(o), /urn:uuid:/, `Observation/${o.id} kept a urn:uuid reference`);
      assert.equal(o.subject.reference, `Patient/${patientId}`);
      if (o.encounter) {
        const [type, id] = o.encounter.reference.split('/');
        assert.equal(type, 'Encounter');
        await client.read({ resourceType: 'Encounter', id });
      }
    }
  }));
});
