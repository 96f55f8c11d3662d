// e2e.smart_browser: a SMART app in a real browser. Debian's headless Chromium runs a tiny app
// (tests/e2e/smart_app: launch.html and index.html) that uses the browser build of the npm
// `fhirclient` package against a real benhan server (token mode, port 0, fresh data dir). The test
// drives Chromium over the Chrome DevTools Protocol like a person would: the app redirects to
// benhan's Vietnamese login page, the test types the user name and password and clicks, picks the
// patient on the consent page and clicks "Cho phép", the browser is redirected back to the app,
// fhirclient exchanges the code (PKCE S256, verifier in sessionStorage) with a cross-origin fetch,
// reads the patient and searches their Observations, and renders them.
// Checked: what the page renders equals what the server holds; the token carries the scopes asked
// for (and the server's introspection agrees); a refresh in the page rotates the tokens; the session
// cookie is HttpOnly and SameSite=Lax; a wrong password shows the Vietnamese error on the login page
// and issues no code; a scope the client is not registered for is refused (error=invalid_scope back
// to the app, no login page, no code); the user's "Từ chối" comes back as access_denied; an EHR
// launch (the EHR front end makes a launch context with its user's token, POST /auth/launch, and
// opens the app with ?iss=...&launch=...): no patient picker, the app gets the EHR's patient and
// encounter, and the spent launch id is refused when opened again; the audit rows.
//
// Chromium is a test dependency (scripts/install-deps.sh, TEST_PKGS). Without it this test fails,
// unless BENHAN_ALLOW_SKIP=1 is set: then it is skipped with a message saying so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test as nodeTest } from 'node:test';

import { findChromium, launchChromium } from './browser.mjs';
import { benhanBin, makeTempDir, readAdminToken, sourceDir, startServer } from './harness.mjs';

const PASSWORD = 'Cây-đa-giếng-nước-77';
const CLIENT_ID = 'so-theo-doi';
const CLIENT_SCOPES = 'launch launch/patient patient/*.read user/*.rs offline_access openid fhirUser';
const APP_SCOPE = 'launch/patient patient/*.read offline_access';
const TIMEOUT_MS = 90000;  // per browser step: CI runs this under ASan on 2 busy cores

const appDir = path.join(sourceDir, 'tests', 'e2e', 'smart_app');
const fhirClientJs = path.join(sourceDir, 'third_party', 'npm', 'node_modules', 'fhirclient', 'build', 'fhir-client.js');

const chromium = findChromium();
const allowSkip = Boolean(process.env.BENHAN_ALLOW_SKIP);
const skip = !chromium && allowSkip
  ? 'chromium is not installed (Debian package `chromium`, in scripts/install-deps.sh TEST_PKGS) and BENHAN_ALLOW_SKIP is set'
  : false;

// The SMART app's static files, served from another origin than the FHIR server, as a real app is.
// `requests` lists every URL asked for (to prove no code reached the app in the negative cases).
function startAppServer(config) {
  const requests = [];
  const files = {
    '/launch.html': () => fs.readFileSync(path.join(appDir, 'launch.html')),
    '/index.html': () => fs.readFileSync(path.join(appDir, 'index.html')),
    '/fhir-client.js': () => fs.readFileSync(fhirClientJs),
    '/config.js': () => `window.APP_CONFIG = ${JSON.stringify(config.current)};\n`,
  };
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const srv = http.createServer((req, res) => {
    requests.push(req.url);
    const { pathname } = new URL(req.url, 'http://app');
    const file = files[pathname];
    if (req.method !== 'GET' || !file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(pathname)], 'cache-control': 'no-store' });
    res.end(file());
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      resolve({ srv, requests, origin: `http://127.0.0.1:${srv.address().port}` });
    });
  });
}

describe('SMART app in headless Chromium (fhirclient browser build)', { skip }, () => {
  let tmp;
  const config = { current: null };
  let server;
  let app;
  let browser;
  let admin;
  let origin;          // the server's origin (authorization endpoints)
  let patient;         // the patient in context, as stored
  let observations;    // their Observations, as stored
  let other;           // another patient: the one the EHR opens (EHR launch)
  let encounter;       // their Encounter, in the EHR's launch context
  let ok = false;       // the last test ran to its end
  let failed = false;   // some test failed: keep the temp dir (logs, screenshots)
  const test = (name, fn) => nodeTest(name, async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  const cli = (args, input) => execFileSync(benhanBin(), [...args, '--data', tmp.dir], {
    input: input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
  });

  async function fhir(method, pathname, body) {
    const r = await fetch(`${server.baseUrl}/${pathname}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/fhir+json' },
      body: body && JSON.stringify(body),
    });
    const text = await r.text();
    assert.ok(r.status < 300, `${method} ${pathname}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  before(async () => {
    if (!chromium) {
      throw new Error('chromium is not installed: it is a test dependency (scripts/install-deps.sh, ' +
        'Debian package `chromium`); set BENHAN_ALLOW_SKIP=1 to skip this test instead');
    }
    tmp = makeTempDir('smart-browser');
    server = await startServer({ dataDir: tmp.dir, logFile: path.join(tmp.dir, 'server.log') });
    // Killed (ctest's timeout, ^C) before after() runs: the server goes too (chromium's group has
    // its own hook in browser.mjs).
    const killServer = () => server.proc.exitCode === null && server.proc.signalCode === null && server.proc.kill('SIGKILL');
    process.once('exit', killServer);
    for (const sig of ['SIGTERM', 'SIGINT']) {
      process.once(sig, () => {
        killServer();
        process.kill(process.pid, sig);
      });
    }
    origin = server.baseUrl.replace(/\/fhir$/, '');
    admin = readAdminToken(tmp.dir);
    app = await startAppServer(config);
    config.current = {
      clientId: CLIENT_ID, scope: APP_SCOPE, redirectUri: `${app.origin}/index.html`, iss: server.baseUrl,
    };
    cli(['user', 'add', 'bs.lan', '--role', 'doctor', '--practitioner', 'pr-1', '--department', 'khoa-noi',
      '--password-stdin'], `${PASSWORD}\n`);
    cli(['client', 'add', CLIENT_ID, '--name', 'Sổ theo dõi đường huyết', '--redirect', config.current.redirectUri,
      '--scope', CLIENT_SCOPES]);
    patient = await fhir('POST', 'Patient', {
      resourceType: 'Patient', name: [{ family: 'Nguyễn', given: ['Thị', 'Thu'] }], gender: 'female', birthDate: '1968-03-02',
    });
    other = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Phạm', given: ['Văn', 'Bình'] }] });
    encounter = await fhir('POST', 'Encounter', {
      resourceType: 'Encounter', status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: `Patient/${other.id}` },
    });
    const obs = (p, code, value) => fhir('POST', 'Observation', {
      resourceType: 'Observation', status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code }] },
      subject: { reference: `Patient/${p.id}` },
      valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    });
    await obs(patient, '2345-7', 7.8);
    await obs(patient, '2345-7', 6.1);
    await obs(other, '2345-7', 5.0);  // another patient's: the app must not see it
    const bundle = await fhir('GET', `Observation?patient=${patient.id}&_count=100`);
    observations = bundle.entry.map((e) => e.resource);
    assert.equal(observations.length, 2);
    fs.mkdirSync(path.join(tmp.dir, 'chromium-profile'));
    browser = await launchChromium({
      executable: chromium,
      profileDir: path.join(tmp.dir, 'chromium-profile'),
      logFile: path.join(tmp.dir, 'chromium.log'),
      timeoutMs: TIMEOUT_MS,
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (app ? app.srv.close(resolve) : resolve()));
    if (server) {
      const { code } = await server.stop();
      ok = ok && code === 0;
    }
    tmp?.done(ok && !failed);
  });

  // On failure: the page as the browser showed it, next to the server log in the kept temp dir.
  async function keepScreenshot(page, err) {
    const file = path.join(tmp.dir, `failed-${Date.now()}.png`);
    try {
      await page.screenshot(file);
      err.message += ` (screenshot: ${file}; at ${page.url})`;
    } catch {
      // the browser is gone
    }
  }

  // Runs `fn` on a fresh page (its own browser context), closed afterwards; a failure keeps a
  // screenshot.
  async function inPage(fn) {
    const page = await browser.newPage();
    try {
      await fn(page);
    } catch (err) {
      await keepScreenshot(page, err);
      throw err;
    } finally {
      await browser.closePage(page);
    }
  }

  const isAuthorize = (url) => url.startsWith(`${origin}/auth/authorize`);
  // Fills benhan's login form as the user types and submits it; returns when the answer is loaded.
  async function submitLogin(page, password) {
    await page.type('#u', 'bs.lan');
    await page.type('#p', password);
    const load = page.nextLoad(isAuthorize);
    await page.click('button[type=submit]');
    await load;
  }
  const codeRequests = () => app.requests.filter((u) => /[?&]code=/.test(u));

  test('standalone launch: wrong password refused, then log in, pick the patient, read and render', async () => {
    await inPage(async (page) => {
      // launch.html -> fhirclient discovers the endpoints -> benhan's login page.
      let load = page.nextLoad(isAuthorize);
      await page.navigate(`${app.origin}/launch.html`);
      const authUrl = new URL(await load);
      assert.equal(authUrl.searchParams.get('client_id'), CLIENT_ID);
      assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(authUrl.searchParams.get('code_challenge'));
      assert.equal(authUrl.searchParams.get('scope'), APP_SCOPE);
      assert.equal(authUrl.searchParams.get('aud'), server.baseUrl);
      assert.match(await page.evaluate('document.querySelector("h2").textContent'), /Đăng nhập/);

      // A wrong password: the login page again, with the Vietnamese error; no code anywhere.
      await submitLogin(page, 'mat-khau-sai');
      const refused = page.documents.at(-1);
      assert.equal(refused.method, 'POST');
      assert.equal(refused.status, 401);
      assert.match(await page.evaluate('document.querySelector(".err[role=alert]").textContent'),
        /^Sai tên đăng nhập, mật khẩu/);
      assert.ok(await page.evaluate('Boolean(document.querySelector("#p"))'), 'the login form is shown again');
      assert.deepEqual(codeRequests(), []);
      assert.ok(!page.documents.some((d) => /[?&]code=/.test(d.url) || /[?&]code=/.test(d.location ?? '')));
      assert.deepEqual(await page.cookies([origin]), [], 'no session cookie after a failed login');

      // The right password: the consent page, with a patient picker (the user has no patient).
      await submitLogin(page, PASSWORD);
      assert.equal(page.documents.at(-1).status, 200);
      assert.match(await page.evaluate('document.querySelector("h2").textContent'), /Cho phép truy cập/);
      const cookies = await page.cookies([origin]);
      assert.equal(cookies.length, 1, JSON.stringify(cookies));
      assert.equal(cookies[0].name, 'benhan_sid');
      assert.equal(cookies[0].httpOnly, true);
      assert.equal(cookies[0].sameSite, 'Lax');
      assert.equal(await page.evaluate('document.cookie'), '', 'the session cookie is not visible to scripts');
      const listed = await page.evaluate('[...document.querySelectorAll("li")].map((li) => li.textContent)');
      assert.equal(listed.length, APP_SCOPE.split(' ').length, listed.join('; '));
      assert.ok(listed.some((t) => /Chọn một bệnh nhân/.test(t)));
      assert.deepEqual(codeRequests(), [], 'no code before consent');

      // Approve: 302 back to the app with a code; fhirclient exchanges it and the app renders.
      await page.type('#pt', patient.id);
      load = page.nextLoad((u) => u.startsWith(`${app.origin}/index.html`));
      await page.click('button[value=approve]');
      await load;
      const approve = page.documents.find((d) => d.method === 'POST' && d.status === 302);
      assert.ok(approve, JSON.stringify(page.documents));
      const back = new URL(approve.location);
      assert.equal(`${back.origin}${back.pathname}`, config.current.redirectUri);
      assert.ok(back.searchParams.get('code'));
      assert.ok(back.searchParams.get('state'));
      assert.equal(codeRequests().length, 1);

      const result = await page.evaluate('window.appDone');
      assert.equal(result.error, undefined, `${result.error}; console: ${page.console.join(' | ')}`);
      // fhirclient removed the code from the address bar (replaceState).
      assert.doesNotMatch(result.href, /code=/);

      // What the page shows is what the server holds.
      const stored = patient.name[0];
      assert.equal(await page.evaluate('document.getElementById("name").textContent'),
        [stored.family, ...stored.given].join(' '));
      assert.equal(await page.evaluate('document.getElementById("patient-id").textContent'), patient.id);
      assert.equal(result.patientId, patient.id);
      assert.equal(result.tokenPatient, patient.id);
      assert.deepEqual([...result.observationIds].sort(), observations.map((o) => o.id).sort());
      const rendered = await page.evaluate(
        '[...document.querySelectorAll("#observations li")].map((li) => [li.dataset.id, li.textContent])');
      assert.deepEqual(new Map(rendered), new Map(observations.map((o) =>
        [o.id, `${o.code.coding[0].code} = ${o.valueQuantity.value} ${o.valueQuantity.unit}`])));

      // The token has exactly the scopes asked for, and the server agrees (introspection).
      assert.equal(result.tokenType, 'Bearer');
      assert.equal(result.scope, APP_SCOPE);
      assert.equal(result.hasRefreshToken, true);
      const intro = await fetch(`${origin}/auth/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: result.accessToken }).toString(),
      });
      assert.equal(intro.status, 200);
      const info = await intro.json();
      assert.equal(info.active, true);
      assert.equal(info.scope, APP_SCOPE);
      assert.equal(info.client_id, CLIENT_ID);
      assert.equal(info.username, 'bs.lan');
      assert.equal(info.patient, patient.id);
      // Refresh in the browser (a cross-origin POST to /auth/token): a new access token and a new
      // refresh token, the same scopes, and the app reads on with it.
      const refreshed = await page.evaluate(`smartClient.refresh().then(async () => ({
        accessToken: smartClient.state.tokenResponse.access_token,
        scope: smartClient.state.tokenResponse.scope,
        readId: (await smartClient.patient.read()).id }))`);
      assert.notEqual(refreshed.accessToken, result.accessToken);
      assert.equal(refreshed.scope, APP_SCOPE);
      assert.equal(refreshed.readId, patient.id);
      // The token reaches this patient's data only.
      const others = await fetch(`${server.baseUrl}/Patient?_count=100`, { headers: { authorization: `Bearer ${result.accessToken}` } });
      const seen = (await others.json()).entry?.map((e) => e.resource.id) ?? [];
      assert.deepEqual(seen, [patient.id]);
    });
  });

  test('a scope the client is not registered for is not granted', async () => {
    await inPage(async (page) => {
      const before = codeRequests().length;
      const load = page.nextLoad((u) => u.startsWith(`${app.origin}/index.html`));
      await page.navigate(`${app.origin}/launch.html?scope=${encodeURIComponent('launch/patient patient/*.cruds')}`);
      const landed = new URL(await load);
      assert.equal(landed.searchParams.get('error'), 'invalid_scope');
      assert.equal(landed.searchParams.get('code'), null);
      const result = await page.evaluate('window.appDone');
      assert.match(result.error, /invalid_scope/);
      assert.match(await page.evaluate('document.getElementById("error").textContent'), /invalid_scope/);
      assert.equal(await page.evaluate('document.getElementById("name").textContent'), '');
      // Refused before any login page; no code reached the app.
      const auth = page.documents.filter((d) => isAuthorize(d.url));
      assert.equal(auth.length, 1);
      assert.equal(auth[0].status, 302);
      assert.ok(!page.documents.some((d) => d.status === 200 && isAuthorize(d.url)));
      assert.equal(codeRequests().length, before);
    });
  });

  test('the user denies: the app gets access_denied, no code', async () => {
    await inPage(async (page) => {
      const before = codeRequests().length;
      let load = page.nextLoad(isAuthorize);
      await page.navigate(`${app.origin}/launch.html`);
      await load;
      await submitLogin(page, PASSWORD);
      assert.match(await page.evaluate('document.querySelector("h2").textContent'), /Cho phép truy cập/);
      load = page.nextLoad((u) => u.startsWith(`${app.origin}/index.html`));
      await page.click('button[value=deny]');
      const landed = new URL(await load);
      assert.equal(landed.searchParams.get('error'), 'access_denied');
      assert.equal(landed.searchParams.get('code'), null);
      const result = await page.evaluate('window.appDone');
      assert.match(result.error, /access_denied/);
      assert.equal(await page.evaluate('document.getElementById("name").textContent'), '');
      assert.equal(codeRequests().length, before);
    });
  });

  // The EHR front end's own session: a user token for bs.lan, by a scripted authorization code +
  // PKCE flow on the same login and consent pages (the EHR is not under test here).
  async function ehrUserToken() {
    const redirect = 'http://127.0.0.1:1/ehr-callback';  // never contacted: the test reads the redirect
    cli(['client', 'add', 'ehr-frontend', '--name', 'Bệnh án điện tử', '--redirect', redirect, '--scope', 'user/*.rs']);
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code', client_id: 'ehr-frontend', redirect_uri: redirect, scope: 'user/*.rs', state: 'ehr',
      aud: server.baseUrl, code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const fields = (html) => Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)]
      .map((m) => [m[1], m[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')]));
    const post = (body, cookie) => fetch(`${origin}/auth/authorize`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(body).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    });
    const loginPage = await (await fetch(`${origin}/auth/authorize?${q}`)).text();
    const login = await post({ ...fields(loginPage), action: 'login', username: 'bs.lan', password: PASSWORD, totp: '' });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const approve = await post({ ...fields(await login.text()), action: 'approve' }, cookie);
    assert.equal(approve.status, 302);
    const code = new URL(approve.headers.get('location')).searchParams.get('code');
    const t = await fetch(`${origin}/auth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: 'ehr-frontend', redirect_uri: redirect, code_verifier: verifier }).toString(),
    });
    assert.equal(t.status, 200);
    return (await t.json()).access_token;
  }

  test('EHR launch: the EHR opens the app with iss and launch; the patient comes from the EHR', async () => {
    const ehrToken = await ehrUserToken();
    const r = await fetch(`${origin}/auth/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ehrToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patient: other.id, encounter: encounter.id }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    const { launch } = await r.json();
    assert.ok(launch);
    const scope = 'launch patient/*.read';
    const appUrl = `${app.origin}/launch.html?${new URLSearchParams({ iss: server.baseUrl, launch, scope })}`;
    await inPage(async (page) => {
      let load = page.nextLoad(isAuthorize);
      await page.navigate(appUrl);
      const authUrl = new URL(await load);
      assert.equal(authUrl.searchParams.get('launch'), launch);
      assert.equal(authUrl.searchParams.get('aud'), server.baseUrl);
      await submitLogin(page, PASSWORD);
      assert.match(await page.evaluate('document.querySelector("h2").textContent'), /Cho phép truy cập/);
      assert.equal(await page.evaluate('Boolean(document.querySelector("#pt"))'), false,
        'no patient picker: the EHR chose the patient');
      const listed = await page.evaluate('[...document.querySelectorAll("li")].map((li) => li.textContent)');
      assert.ok(listed.some((t) => /EHR launch/.test(t)), listed.join('; '));
      load = page.nextLoad((u) => u.startsWith(`${app.origin}/index.html`));
      await page.click('button[value=approve]');
      await load;
      const result = await page.evaluate('window.appDone');
      assert.equal(result.error, undefined, `${result.error}; console: ${page.console.join(' | ')}`);
      assert.equal(result.patientId, other.id);
      assert.equal(result.encounter, encounter.id);
      assert.equal(result.scope, scope);
      const stored = other.name[0];
      assert.equal(await page.evaluate('document.getElementById("name").textContent'),
        [stored.family, ...stored.given].join(' '));
      const theirs = (await fhir('GET', `Observation?patient=${other.id}&_count=100`)).entry.map((e) => e.resource.id);
      assert.deepEqual([...result.observationIds].sort(), theirs.sort());
    });
    // The launch id is single use: opening the app with it again comes back as invalid_request.
    await inPage(async (again) => {
      const before = codeRequests().length;
      const load = again.nextLoad((u) => u.startsWith(`${app.origin}/index.html`));
      await again.navigate(appUrl);
      const landed = new URL(await load);
      assert.equal(landed.searchParams.get('error'), 'invalid_request');
      assert.match((await again.evaluate('window.appDone')).error, /invalid_request/);
      assert.equal(codeRequests().length, before);
    });
  });

  test('audit: the failed login, the logins, an authorization per approval, the launch context', async () => {
    const { code } = await server.stop();  // flushes the batched audit rows
    assert.equal(code, 0);
    const rows = execFileSync('sqlite3', [path.join(tmp.dir, 'benhan.db'),
      "SELECT action || ' ' || principal FROM audit_event WHERE action IN ('login', 'login-failed', 'authorize', 'authorize-refused', 'token', 'launch-context') ORDER BY rowid"],
    { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(rows, [
      // standalone: the wrong password, the login, the consent, the code exchange, the refresh
      'login-failed bs.lan', 'login bs.lan', 'authorize bs.lan', 'token bs.lan', 'token bs.lan',
      // the user who denies: a login, no authorization
      'login bs.lan',
      // EHR launch: the EHR front end's own token, its launch context, then the app in the browser
      'login bs.lan', 'authorize bs.lan', 'token bs.lan', 'launch-context bs.lan',
      'login bs.lan', 'authorize bs.lan', 'token bs.lan',
    ]);
    ok = true;
  });
});
