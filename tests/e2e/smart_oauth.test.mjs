// e2e.smart_oauth: the OAuth2 / SMART App Launch server end to end against a real benhan server
// (token mode, port 0, fresh data dir), with accounts and clients made by the `benhan user` /
// `benhan client` commands while it runs:
// - a SMART app driven by the npm `fhirclient` package (its Node adapter): discovery,
//   authorization code + PKCE S256, the Vietnamese login and consent pages (cookie session, CSRF
//   field), patient context, FHIR reads with the token, refresh with rotation, revocation;
// - a backend system (like the LIS) with client credentials and an ES384 JWT assertion signed by
//   the npm `jose` package (an independent JOSE implementation), writing and reading over FHIR;
// - a confidential app with a server-made secret (fhirclient's clientSecret: HTTP Basic at the
//   token endpoint), client_secret_post, introspection with the secret;
// - dynamic client registration (RFC 7591) with the administrator token, then the registered
//   client used by fhirclient, and still there after a server restart;
// - OpenID Connect: the id_token verified by npm `jose` against the JWKS published at the
//   openid-configuration's jwks_uri (iss, aud, nonce, fhirUser);
// - EHR launch: a logged-in user's launch context (patient + encounter) through POST /auth/launch,
//   the fhirclient app launched with ?iss=&launch=, its token carrying patient and encounter;
//   reused, unknown and another user's launch ids refused;
// - bad input: malformed, revoked and unknown tokens, wrong PKCE verifier, code reuse,
//   redirect_uri mismatch, scope escalation on refresh, assertion replay, locked account, wrong
//   TOTP: each refused with the right OAuth2 error or 401, nothing leaked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { benhanBin, makeTempDir, readAdminToken, sourceDir, startServer } from './harness.mjs';

const require = createRequire(import.meta.url);
const npm = path.join(sourceDir, 'third_party', 'npm', 'node_modules');
const smart = require(path.join(npm, 'fhirclient'));
const jose = require(path.join(npm, 'jose'));

const PASSWORD = 'Cây-đa-giếng-nước-77';
const REDIRECT = 'http://127.0.0.1:1/callback';  // never contacted: the test reads the redirect

const tmp = makeTempDir('smart');
let server;
let admin;
let patientId;
let ok = false;

function cli(args, input) {
  return execFileSync(benhanBin(), [...args, '--data', tmp.dir], {
    input: input ?? '',
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// The <input> fields of the page's form.
function formFields(html) {
  const out = {};
  for (const m of html.matchAll(/<input([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(m[1]);
    const value = /value="([^"]*)"/.exec(m[1]);
    if (name) {
      out[name[1]] = (value ? value[1] : '')
        .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    }
  }
  return out;
}

async function postForm(url, fields, headers = {}) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

// A browser's part: open the authorization URL, log in, approve (choosing `patient` if asked).
// Returns the redirect Location.
async function loginAndApprove(authorizeUrl, { user = 'bs.lan', password = PASSWORD, totp = '', patient } = {}) {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  assert.equal(page.status, 200);
  const loginHtml = await page.text();
  assert.match(loginHtml, /Đăng nhập/);
  const origin = new URL(authorizeUrl).origin;
  const login = await postForm(`${origin}/auth/authorize`, {
    ...formFields(loginHtml), username: user, password, totp,
  });
  const consentHtml = await login.text();
  assert.equal(login.status, 200, consentHtml);
  const cookie = login.headers.get('set-cookie');
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.match(consentHtml, /Cho phép truy cập/);
  const fields = formFields(consentHtml);
  assert.ok(fields.csrf, 'the consent form carries a CSRF token');
  if (patient) fields.patient = patient;
  const approve = await postForm(`${origin}/auth/authorize`, { ...fields, action: 'approve' },
    { cookie: cookie.split(';')[0] });
  assert.equal(approve.status, 302, await approve.text());
  return { location: approve.headers.get('location'), cookie: cookie.split(';')[0], fields };
}

function memoryStorage() {
  const m = new Map();
  return {
    async get(k) { return m.get(k); },
    async set(k, v) { m.set(k, v); return v; },
    async unset(k) { return m.delete(k); },
  };
}

function nodeRequest(url) {
  const u = new URL(url);
  return { url: u.pathname + u.search, headers: { host: u.host }, socket: {} };
}
function nodeResponse() {
  return {
    status: 0,
    location: '',
    writeHead(status, headers) { this.status = status; this.location = headers.location; },
    end() {},
  };
}

async function fhirGet(pathname, token) {
  const r = await fetch(`${server.baseUrl}/${pathname}`, {
    headers: token === undefined ? {} : { authorization: token },
  });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

async function token(fields) {
  const r = await postForm(`${server.baseUrl.replace(/\/fhir$/, '')}/auth/token`, fields);
  return { status: r.status, body: await r.json() };
}

// A manual authorization-code flow (for the bad-input tests); returns { code, verifier }.
async function manualCode(scope = 'user/*.rs offline_access', extra = {}, user = 'bs.lan') {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const q = new URLSearchParams({
    response_type: 'code', client_id: 'growth-chart', redirect_uri: REDIRECT, scope,
    state: 's1', aud: server.baseUrl, code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  });
  const origin = server.baseUrl.replace(/\/fhir$/, '');
  const { location } = await loginAndApprove(`${origin}/auth/authorize?${q}`, { user });
  const u = new URL(location);
  assert.equal(u.searchParams.get('state'), 's1');
  return { code: u.searchParams.get('code'), verifier };
}

before(async () => {
  server = await startServer({ dataDir: tmp.dir, logFile: path.join(tmp.dir, 'server.log') });
  admin = readAdminToken(tmp.dir);
  cli(['user', 'add', 'bs.lan', '--role', 'doctor', '--practitioner', 'pr-1', '--department', 'khoa-noi', '--password-stdin'], `${PASSWORD}\n`);
  cli(['user', 'add', 'dd.mai', '--role', 'nurse', '--password-stdin'], `${PASSWORD}\n`);
  cli(['user', 'add', 'qtv', '--role', 'admin', '--password-stdin'], `${PASSWORD}\n`);
  cli(['client', 'add', 'growth-chart', '--name', 'Biểu đồ tăng trưởng', '--redirect', REDIRECT,
    '--scope', 'launch launch/patient patient/*.read user/*.rs offline_access openid fhirUser profile']);
  const r = await fetch(`${server.baseUrl}/Patient`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Trần', given: ['Thị', 'Hoa'] }], gender: 'female' }),
  });
  assert.equal(r.status, 201);
  patientId = (await r.json()).id;
});

after(async () => {
  if (server) {
    const { code } = await server.stop();
    ok = ok && code === 0;
  }
  tmp.done(ok);
});

describe('SMART discovery', () => {
  test('.well-known/smart-configuration answers without authentication', async () => {
    const r = await fhirGet('.well-known/smart-configuration');
    assert.equal(r.status, 200);
    const c = JSON.parse(r.body);
    const origin = server.baseUrl.replace(/\/fhir$/, '');
    assert.equal(c.authorization_endpoint, `${origin}/auth/authorize`);
    assert.equal(c.token_endpoint, `${origin}/auth/token`);
    assert.deepEqual(c.code_challenge_methods_supported, ['S256']);
    assert.ok(c.capabilities.includes('permission-v2'));
    assert.ok(c.token_endpoint_auth_signing_alg_values_supported.includes('ES384'));
  });
});

describe('accounts', () => {
  test('a user linked from a stored PractitionerRole (practitioner, department, role)', async () => {
    const post = async (type, body) => {
      const r = await fetch(`${server.baseUrl}/${type}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 201, await r.clone().text());
      return (await r.json()).id;
    };
    const org = await post('Organization', { resourceType: 'Organization', name: 'Khoa Nhi' });
    const pr = await post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Lê', given: ['Văn', 'Nhi'] }] });
    const role = await post('PractitionerRole', {
      resourceType: 'PractitionerRole',
      practitioner: { reference: `Practitioner/${pr}` },
      organization: { reference: `Organization/${org}` },
      code: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'doctor' }] }],
    });
    cli(['user', 'add', 'bs.nhi', '--practitioner-role', role, '--password-stdin'], `${PASSWORD}\n`);
    const shown = cli(['user', 'show', 'bs.nhi']);
    assert.match(shown, new RegExp(`role=doctor Practitioner/${pr} Organization/${org}`));
  });
});

describe('fhirclient app: authorization code + PKCE', () => {
  let client;
  let storage;
  test('authorize, log in, consent, exchange, read with the token', async () => {
    storage = memoryStorage();
    const res = nodeResponse();
    await smart(nodeRequest('http://127.0.0.1:1/launch'), res, storage).authorize({
      iss: server.baseUrl,
      clientId: 'growth-chart',
      scope: 'launch/patient patient/*.read offline_access',
      redirectUri: REDIRECT,
      pkceMode: 'required',
    });
    assert.equal(res.status, 302);
    const authUrl = new URL(res.location);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    const { location } = await loginAndApprove(res.location, { patient: patientId });
    assert.ok(location.startsWith(`${REDIRECT}?code=`), location);
    client = await smart(nodeRequest(location), nodeResponse(), storage).ready();
    assert.equal(client.patient.id, patientId);
    assert.equal(client.state.tokenResponse.scope, 'launch/patient patient/*.read offline_access');
    assert.ok(client.state.tokenResponse.refresh_token);
    const p = await client.patient.read();
    assert.equal(p.id, patientId);
    assert.equal(p.name[0].family, 'Trần');
  });

  test('refresh rotates the refresh token; the old one is spent', async () => {
    const oldRefresh = client.state.tokenResponse.refresh_token;
    const oldAccess = client.state.tokenResponse.access_token;
    await client.refresh();
    assert.notEqual(client.state.tokenResponse.refresh_token, oldRefresh);
    assert.notEqual(client.state.tokenResponse.access_token, oldAccess);
    assert.equal((await client.patient.read()).id, patientId);
    const again = await token({ grant_type: 'refresh_token', refresh_token: oldRefresh, client_id: 'growth-chart' });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  test('scope escalation on refresh is refused', async () => {
    const r = await token({
      grant_type: 'refresh_token', refresh_token: client.state.tokenResponse.refresh_token,
      client_id: 'growth-chart', scope: 'patient/*.cruds',
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_scope');
  });

  test('revocation takes effect at the next request', async () => {
    const at = client.state.tokenResponse.access_token;
    assert.equal((await fhirGet(`Patient/${patientId}`, `Bearer ${at}`)).status, 200);
    const r = await postForm(`${server.baseUrl.replace(/\/fhir$/, '')}/auth/revoke`, { token: at, client_id: 'growth-chart' });
    assert.equal(r.status, 200);
    const after = await fhirGet(`Patient/${patientId}`, `Bearer ${at}`);
    assert.equal(after.status, 401);
    assert.equal(JSON.parse(after.body).resourceType, 'OperationOutcome');
    // Introspection (administrator token): inactive.
    const intro = await fetch(`${server.baseUrl.replace(/\/fhir$/, '')}/auth/introspect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${at}`,
    });
    assert.equal(intro.status, 200);
    assert.deepEqual(await intro.json(), { active: false });
  });
});

describe('system client: client credentials with a signed JWT', () => {
  test('ES384 assertion from jose, then FHIR writes and reads', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'lis-2026', alg: 'ES384' };
    const jwksFile = path.join(tmp.dir, 'lis.jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    cli(['client', 'add', 'lis', '--name', 'Hệ thống xét nghiệm', '--jwks', jwksFile,
      '--scope', 'system/Observation.cruds system/Patient.rs', '--role', 'lab']);
    const tokenUrl = `${server.baseUrl.replace(/\/fhir$/, '')}/auth/token`;
    const assertion = (jti, claims = {}) => new jose.SignJWT({ jti, ...claims })
      .setProtectedHeader({ alg: 'ES384', kid: 'lis-2026', typ: 'JWT' })
      .setIssuer('lis').setSubject('lis').setAudience(tokenUrl)
      .setExpirationTime('4m').setIssuedAt()
      .sign(privateKey);
    const a1 = await assertion('one');
    const form = (a, scope) => ({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: a, scope,
    });
    const r = await token(form(a1, 'system/Observation.cruds system/Patient.rs'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.refresh_token, undefined);
    const bearer = `Bearer ${r.body.access_token}`;
    const w = await fetch(`${server.baseUrl}/Observation`, {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Observation', status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        subject: { reference: `Patient/${patientId}` },
        valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      }),
    });
    assert.equal(w.status, 201, await w.text());
    assert.equal((await fhirGet(`Patient/${patientId}`, bearer)).status, 200);
    // Replay of the same assertion, escalation, and a user scope are refused.
    const replay = await token(form(a1, 'system/Patient.rs'));
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'invalid_client');
    const esc = await token(form(await assertion('two'), 'system/*.cruds'));
    assert.equal(esc.body.error, 'invalid_scope');
    const wrongAud = await token(form(await new jose.SignJWT({ jti: 'three' })
      .setProtectedHeader({ alg: 'ES384', kid: 'lis-2026' }).setIssuer('lis').setSubject('lis')
      .setAudience('https://elsewhere.example/token').setExpirationTime('4m').sign(privateKey), 'system/Patient.rs'));
    assert.equal(wrongAud.body.error, 'invalid_client');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const forged = await new jose.SignJWT({ jti: 'four' })
      .setProtectedHeader({ alg: 'ES384', kid: 'lis-2026' }).setIssuer('lis').setSubject('lis')
      .setAudience(tokenUrl).setExpirationTime('4m').sign(other);
    assert.equal((await token(form(forged, 'system/Patient.rs'))).body.error, 'invalid_client');
  });
});

const origin = () => server.baseUrl.replace(/\/fhir$/, '');
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

// A user's access token (authorization code + PKCE, growth-chart) for `user`.
async function userToken(user = 'bs.lan', scope = 'user/*.rs') {
  const { code, verifier } = await manualCode(scope, {}, user);
  const r = await token({ grant_type: 'authorization_code', code, client_id: 'growth-chart', redirect_uri: REDIRECT, code_verifier: verifier });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

// The fhirclient app flow for a client (public or with clientSecret); `launchUrl` may carry
// ?iss=&launch= (EHR launch). Returns the ready fhirclient Client.
async function fhirclientFlow({ clientId, clientSecret, scope, launchUrl, user = 'bs.lan', patient }) {
  const storage = memoryStorage();
  const res = nodeResponse();
  const opts = { clientId, scope, redirectUri: REDIRECT, pkceMode: 'required' };
  if (clientSecret) opts.clientSecret = clientSecret;
  if (!launchUrl) opts.iss = server.baseUrl;
  await smart(nodeRequest(launchUrl ?? 'http://127.0.0.1:1/launch'), res, storage).authorize(opts);
  assert.equal(res.status, 302);
  const { location } = await loginAndApprove(res.location, { user, patient });
  assert.ok(location.startsWith(`${REDIRECT}?code=`), location);
  return smart(nodeRequest(location), nodeResponse(), storage).ready();
}

describe('confidential client with a server-made secret', () => {
  let secret;
  test('benhan client add --auth client_secret_basic prints the secret once; fhirclient uses it', async () => {
    const out = cli(['client', 'add', 'his-web', '--name', 'HIS web', '--auth', 'client_secret_basic',
      '--redirect', REDIRECT, '--scope', 'launch/patient patient/*.read user/*.rs offline_access openid fhirUser']);
    secret = /client_secret: (\S+)/.exec(out)[1];
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit base64url secret');
    assert.doesNotMatch(cli(['client', 'show', 'his-web']), new RegExp(secret));
    const client = await fhirclientFlow({ clientId: 'his-web', clientSecret: secret, scope: 'launch/patient patient/*.read offline_access', patient: patientId });
    assert.equal((await client.patient.read()).id, patientId);
    // fhirclient refreshes with HTTP Basic too.
    const before = client.state.tokenResponse.access_token;
    await client.refresh();
    assert.notEqual(client.state.tokenResponse.access_token, before);
  });

  test('wrong, missing or misplaced secrets are refused; introspection with the secret', async () => {
    const { code, verifier } = await manualCode('user/*.rs');
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
    const wrong = await postForm(`${origin()}/auth/token`, form, { authorization: basic('his-web', `${secret}x`) });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate'), /^Basic/);
    assert.equal((await wrong.json()).error, 'invalid_client');
    const none = await token({ ...form, client_id: 'his-web' });
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'invalid_client');
    const post = await token({ ...form, client_id: 'his-web', client_secret: secret });
    assert.equal(post.body.error, 'invalid_client', 'his-web is registered for client_secret_basic');
    // client_secret_post for another client; its token introspected with its own credentials.
    const out = cli(['client', 'add', 'ris', '--auth', 'client_secret_post', '--scope', 'system/Patient.rs', '--role', 'lab']);
    const s2 = /client_secret: (\S+)/.exec(out)[1];
    const cc = await token({ grant_type: 'client_credentials', client_id: 'ris', client_secret: s2, scope: 'system/Patient.rs' });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    assert.equal((await fhirGet(`Patient/${patientId}`, `Bearer ${cc.body.access_token}`)).status, 200);
    const intro = await postForm(`${origin()}/auth/introspect`, { token: cc.body.access_token },
      { authorization: basic('his-web', secret) });
    assert.equal(intro.status, 200);
    const ib = await intro.json();
    assert.equal(ib.active, true);
    assert.equal(ib.client_id, 'ris');
    const badIntro = await postForm(`${origin()}/auth/introspect`, { token: cc.body.access_token, client_id: 'ris', client_secret: 'nope' });
    assert.equal(badIntro.status, 401);
    // Revocation by a confidential client needs its secret.
    const noAuth = await postForm(`${origin()}/auth/revoke`, { token: cc.body.access_token, client_id: 'ris' });
    assert.equal(noAuth.status, 401);
    const rev = await postForm(`${origin()}/auth/revoke`, { token: cc.body.access_token, client_id: 'ris', client_secret: s2 });
    assert.equal(rev.status, 200);
    assert.equal((await fhirGet(`Patient/${patientId}`, `Bearer ${cc.body.access_token}`)).status, 401);
    // A new secret (benhan client secret) stops the old one.
    const s3 = /client_secret: (\S+)/.exec(cli(['client', 'secret', 'ris']))[1];
    assert.equal((await token({ grant_type: 'client_credentials', client_id: 'ris', client_secret: s2 })).status, 401);
    assert.equal((await token({ grant_type: 'client_credentials', client_id: 'ris', client_secret: s3 })).status, 200);
    const conf = JSON.parse((await fhirGet('.well-known/smart-configuration')).body);
    assert.deepEqual([...conf.token_endpoint_auth_methods_supported].sort(),
      ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
    assert.ok(conf.capabilities.includes('client-confidential-symmetric'));
  });
});

describe('dynamic client registration (RFC 7591)', () => {
  test('needs the administrator token; strict metadata; the registered client works and survives a restart', async () => {
    const conf = JSON.parse((await fhirGet('.well-known/smart-configuration')).body);
    assert.equal(conf.registration_endpoint, `${origin()}/auth/register`);
    const register = (body, headers = {}) => fetch(conf.registration_endpoint, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
    });
    const meta = {
      client_name: 'Ứng dụng đăng ký động', redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic',
      scope: 'launch/patient patient/*.read offline_access openid fhirUser',
    };
    const anon = await register(meta);
    assert.equal(anon.status, 401, 'open registration is off by default');
    assert.equal((await anon.json()).error, 'invalid_token');
    const userTok = await userToken('bs.lan');
    const notAdmin = await register(meta, { authorization: `Bearer ${userTok}` });
    assert.equal(notAdmin.status, 403);
    const auth = { authorization: `Bearer ${admin}` };
    for (const [bad, error] of [
      [{ ...meta, redirect_uris: ['http://evil.example/cb'] }, 'invalid_redirect_uri'],
      [{ ...meta, token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], scope: 'system/*.rs' }, 'invalid_client_metadata'],
      [{ ...meta, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
      [{ ...meta, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://a.example/jwks' }, 'invalid_client_metadata'],
      [{ ...meta, scope: "user/*.rs' OR 1=1 --" }, 'invalid_client_metadata'],
    ]) {
      const r = await register(bad, auth);
      assert.equal(r.status, 400);
      const b = await r.json();
      assert.equal(b.error, error, JSON.stringify(b));
      assert.ok(b.error_description);
    }
    const notJson = await fetch(conf.registration_endpoint, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"client_name":' });
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error, 'invalid_client_metadata');
    const r = await register(meta, auth);
    assert.equal(r.status, 201);
    const reg = await r.json();
    assert.match(reg.client_id, /^app-/);
    assert.ok(reg.client_secret);
    assert.equal(reg.client_secret_expires_at, 0);
    assert.deepEqual(reg.redirect_uris, [REDIRECT]);
    // Restart: the client is in the store.
    const { code } = await server.stop();
    assert.equal(code, 0);
    server = await startServer({ dataDir: tmp.dir, logFile: path.join(tmp.dir, 'server2.log') });
    assert.match(cli(['client', 'show', reg.client_id]), /registered_by=admin/);
    const client = await fhirclientFlow({ clientId: reg.client_id, clientSecret: reg.client_secret, scope: 'launch/patient patient/*.read openid fhirUser', patient: patientId });
    assert.equal((await client.patient.read()).id, patientId);
    assert.equal(client.getFhirUser(), 'Practitioner/pr-1');
  });
});

describe('OpenID Connect id_token', () => {
  test('verifies with the JWKS of the openid-configuration (npm jose): iss, aud, nonce, fhirUser', async () => {
    const disc = await fetch(`${origin()}/.well-known/openid-configuration`);
    assert.equal(disc.status, 200);
    const oidc = await disc.json();
    assert.equal(oidc.issuer, `${origin()}/auth`);
    assert.deepEqual(oidc.id_token_signing_alg_values_supported, ['ES256']);
    const jwks = await (await fetch(oidc.jwks_uri)).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].d, undefined, 'no private part published');
    const nonce = b64url(randomBytes(16));
    const { code, verifier } = await manualCode('openid fhirUser profile user/*.rs', { nonce });
    const r = await token({ grant_type: 'authorization_code', code, client_id: 'growth-chart', redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { payload, protectedHeader } = await jose.jwtVerify(r.body.id_token, jose.createLocalJWKSet(jwks), {
      issuer: oidc.issuer, audience: 'growth-chart', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.kid, jwks.keys[0].kid);
    assert.equal(payload.sub, 'bs.lan');
    assert.equal(payload.nonce, nonce);
    assert.equal(payload.fhirUser, `${server.baseUrl}/Practitioner/pr-1`);
    assert.equal(payload.preferred_username, 'bs.lan');
    // A forged token (signed by another key with the same kid) does not verify.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await new jose.SignJWT({ ...payload })
      .setProtectedHeader({ alg: 'ES256', kid: jwks.keys[0].kid }).sign(other);
    await assert.rejects(jose.jwtVerify(forged, jose.createLocalJWKSet(jwks), { issuer: oidc.issuer }));
    // The fhirclient app reads fhirUser from the id_token.
    const client = await fhirclientFlow({ clientId: 'growth-chart', scope: 'openid fhirUser user/*.rs' });
    assert.equal(client.getFhirUser(), 'Practitioner/pr-1');
    assert.equal(client.getUserType(), 'Practitioner');
  });
});

describe('EHR launch', () => {
  let encounterId;
  const launchCtx = async (tok, body) => fetch(`${origin()}/auth/launch`, {
    method: 'POST',
    headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  test('a logged-in user launches the fhirclient app in a patient and encounter context', async () => {
    const e = await fetch(`${server.baseUrl}/Encounter`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patientId}` } }),
    });
    assert.equal(e.status, 201, await e.clone().text());
    encounterId = (await e.json()).id;
    const ehr = await userToken('bs.lan');
    const r = await launchCtx(ehr, { patient: patientId, encounter: encounterId });
    assert.equal(r.status, 201);
    const { launch, expires_in: exp } = await r.json();
    assert.match(launch, /^[A-Za-z0-9_-]{32}$/);
    assert.ok(exp > 0 && exp <= 300);
    const conf = JSON.parse((await fhirGet('.well-known/smart-configuration')).body);
    for (const cap of ['launch-ehr', 'context-ehr-patient']) assert.ok(conf.capabilities.includes(cap), cap);
    const launchUrl = `http://127.0.0.1:1/launch?iss=${encodeURIComponent(server.baseUrl)}&launch=${launch}`;
    const client = await fhirclientFlow({ clientId: 'growth-chart', scope: 'launch patient/*.read openid fhirUser', launchUrl });
    assert.equal(client.patient.id, patientId);
    assert.equal(client.encounter.id, encounterId);
    assert.equal((await client.patient.read()).id, patientId);
    assert.equal((await client.encounter.read()).id, encounterId);
    // Used once: the same launch id again is refused (redirected back with invalid_request).
    const again = new URL(`${origin()}/auth/authorize`);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: 'growth-chart', redirect_uri: REDIRECT,
      scope: 'launch patient/*.read', launch, state: 'z', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256' })) {
      again.searchParams.set(k, v);
    }
    const reuse = await fetch(again, { redirect: 'manual' });
    assert.equal(reuse.status, 302);
    const loc = new URL(reuse.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description'), /launch/);
    again.searchParams.set('launch', 'unknown-launch-id');
    assert.equal(new URL((await fetch(again, { redirect: 'manual' })).headers.get('location')).searchParams.get('error'), 'invalid_request');
  });

  test("another user's launch id, bad contexts and non-user tokens are refused", async () => {
    const ehr = await userToken('bs.lan');
    const { launch } = await (await launchCtx(ehr, { patient: patientId })).json();
    const q = new URLSearchParams({ response_type: 'code', client_id: 'growth-chart', redirect_uri: REDIRECT,
      scope: 'launch patient/*.read', launch, code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256' });
    const html = await (await fetch(`${origin()}/auth/authorize?${q}`)).text();
    const login = await postForm(`${origin()}/auth/authorize`, { ...formFields(html), username: 'dd.mai', password: PASSWORD });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const approve = await postForm(`${origin()}/auth/authorize`, { ...formFields(await login.text()), action: 'approve' }, { cookie });
    assert.equal(approve.status, 403);
    assert.match(await approve.text(), /người dùng khác/);
    assert.equal((await launchCtx(undefined, { patient: patientId })).status, 401);
    const byAdmin = await launchCtx(admin, { patient: patientId });
    assert.equal(byAdmin.status, 403);
    assert.equal((await byAdmin.json()).error, 'access_denied');
    const unknown = await launchCtx(ehr, { patient: 'khong-co' });
    assert.equal(unknown.status, 400);
    const ub = await unknown.json();
    assert.equal(ub.error, 'invalid_request');
    assert.match(ub.error_description, /Không tìm thấy bệnh nhân/);
    assert.equal((await launchCtx(ehr, { patient: 7 })).status, 400);
    assert.equal((await launchCtx(ehr, { patient: patientId, encounter: 'khong-co' })).status, 400);
  });
});

describe('bad input', () => {
  test('malformed, unknown and non-bearer tokens: 401 OperationOutcome, nothing leaked', async () => {
    for (const h of ['Bearer x.y.z', `Bearer ${'A'.repeat(5000)}`, 'Bearer ', 'Basic YWRtaW46YWRtaW4=',
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.', `Bearer ${admin}x`, "Bearer ' OR 1=1 --"]) {
      const r = await fhirGet(`Patient/${patientId}`, h);
      assert.equal(r.status, 401, h.slice(0, 40));
      assert.match(r.headers.get('www-authenticate') ?? '', /Bearer/);
      const oo = JSON.parse(r.body);
      assert.equal(oo.resourceType, 'OperationOutcome');
      assert.doesNotMatch(r.body, /Trần|sqlite|postgres|SELECT|security_kv|\.cc/i);
    }
    assert.equal((await fhirGet(`Patient/${patientId}`)).status, 401);
  });

  test('wrong PKCE verifier, then the code is spent', async () => {
    const { code, verifier } = await manualCode();
    const base = { grant_type: 'authorization_code', code, client_id: 'growth-chart', redirect_uri: REDIRECT };
    const wrong = await token({ ...base, code_verifier: b64url(randomBytes(32)) });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    const right = await token({ ...base, code_verifier: verifier });
    assert.equal(right.body.error, 'invalid_grant', 'a code is used once, even after a failure');
  });

  test('code reuse and redirect_uri mismatch', async () => {
    const { code, verifier } = await manualCode();
    const base = { grant_type: 'authorization_code', code, client_id: 'growth-chart', code_verifier: verifier };
    const mismatch = await token({ ...base, redirect_uri: 'http://127.0.0.1:1/other' });
    assert.equal(mismatch.body.error, 'invalid_grant');
    const c2 = await manualCode();
    const first = await token({ grant_type: 'authorization_code', code: c2.code, client_id: 'growth-chart', redirect_uri: REDIRECT, code_verifier: c2.verifier });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const reuse = await token({ grant_type: 'authorization_code', code: c2.code, client_id: 'growth-chart', redirect_uri: REDIRECT, code_verifier: c2.verifier });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    // An unregistered redirect_uri is never redirected to.
    const origin = server.baseUrl.replace(/\/fhir$/, '');
    const q = new URLSearchParams({ response_type: 'code', client_id: 'growth-chart', redirect_uri: 'https://evil.example/cb',
      scope: 'user/*.rs', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256' });
    const page = await fetch(`${origin}/auth/authorize?${q}`, { redirect: 'manual' });
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    // PKCE plain is refused (redirected back with invalid_request).
    q.set('redirect_uri', REDIRECT);
    q.set('code_challenge_method', 'plain');
    const plain = await fetch(`${origin}/auth/authorize?${q}`, { redirect: 'manual' });
    assert.equal(plain.status, 302);
    assert.equal(new URL(plain.headers.get('location')).searchParams.get('error'), 'invalid_request');
  });

  test('locked account after repeated failures; wrong TOTP for an administrator', async () => {
    const origin = server.baseUrl.replace(/\/fhir$/, '');
    const q = new URLSearchParams({ response_type: 'code', client_id: 'growth-chart', redirect_uri: REDIRECT,
      scope: 'user/*.rs', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256' });
    const html = await (await fetch(`${origin}/auth/authorize?${q}`)).text();
    const fields = formFields(html);
    for (let i = 0; i < 5; i++) {
      const r = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'dd.mai', password: 'sai-mat-khau-1' });
      assert.equal(r.status, 401);
      assert.match(await r.text(), /Sai tên đăng nhập/);
    }
    const locked = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'dd.mai', password: PASSWORD });
    assert.equal(locked.status, 403);
    assert.match(await locked.text(), /tạm khoá/);
    assert.equal(locked.headers.get('set-cookie'), null);
    cli(['user', 'unlock', 'dd.mai']);
    const unlocked = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'dd.mai', password: PASSWORD });
    assert.equal(unlocked.status, 200);
    // Administrator: TOTP required; a wrong code is refused, the right one accepted.
    const noTotp = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'qtv', password: PASSWORD });
    assert.equal(noTotp.status, 403);
    const uri = cli(['user', 'totp', 'qtv']).trim();
    assert.match(uri, /^otpauth:\/\/totp\/benhan:qtv\?secret=[A-Z2-7]+&/);
    const wrong = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'qtv', password: PASSWORD, totp: '000000' });
    assert.equal(wrong.status, 401);
    const secret = base32Decode(new URL(uri).searchParams.get('secret'));
    const good = await postForm(`${origin}/auth/authorize`, { ...fields, username: 'qtv', password: PASSWORD, totp: totpCode(secret) });
    assert.equal(good.status, 200, await good.text());
  });
});

describe('audit', () => {
  test('logins, failed logins and token issuance are in the audit trail', async () => {
    const { code } = await server.stop();  // flushes the batched audit rows
    assert.equal(code, 0);
    const rows = execFileSync('sqlite3', [path.join(tmp.dir, 'benhan.db'),
      "SELECT action || ' ' || principal FROM audit_event WHERE action IN " +
      "('login', 'login-failed', 'token', 'token-refused', 'revoke', 'authorize')"], { encoding: 'utf8' })
      .trim().split('\n');
    const has = (line) => rows.includes(line);
    assert.ok(has('login bs.lan'), rows.join('; '));
    assert.ok(has('login-failed dd.mai'));
    assert.ok(has('login-failed qtv'));
    assert.ok(has('authorize bs.lan'));
    assert.ok(has('token bs.lan'));
    assert.ok(has('token client:lis'));
    assert.ok(has('token-refused client:lis'));
    assert.ok(rows.some((r) => r.startsWith('revoke ')));
    const more = execFileSync('sqlite3', [path.join(tmp.dir, 'benhan.db'),
      "SELECT action || ' ' || principal FROM audit_event WHERE action IN " +
      "('client-register', 'client-register-refused', 'launch-context', 'authorize-refused', 'token')"],
    { encoding: 'utf8' }).trim().split('\n');
    assert.ok(more.some((r) => r.startsWith('client-register ')), more.join('; '));
    assert.ok(more.some((r) => r.startsWith('client-register-refused ')));
    assert.ok(more.includes('launch-context bs.lan'));
    assert.ok(more.includes('authorize-refused dd.mai'));
    assert.ok(more.includes('token client:ris'));
    ok = true;
  });
});

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), computed independently with node:crypto.
function totpCode(secret) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = require('node:crypto').createHmac('sha1', secret).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  const bin = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(bin % 1000000).padStart(6, '0');
}
