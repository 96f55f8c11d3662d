// Headless Chromium for the end-to-end tests (tests/e2e): Debian's `chromium` started on a temp
// profile, driven over the Chrome DevTools Protocol with Node's WebSocket (no npm CDP client).
//   const browser = await launchChromium({ profileDir, logFile });
//   const page = await browser.newPage();          // a fresh browser context (own cookies, storage)
//   const load = page.nextLoad((url) => ...);       // arm before the action that navigates
//   await page.navigate(url); await load;
//   await page.type('#u', 'text'); await page.click('button');
//   await browser.close();                          // Browser.close, then SIGKILL of our own group
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The chromium executable: BENHAN_CHROMIUM, else `chromium` or `chromium-browser` on PATH; ''
// when there is none.
export function findChromium() {
  if (process.env.BENHAN_CHROMIUM) return process.env.BENHAN_CHROMIUM;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = path.join(dir, name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return '';
}

// BENHAN_CDP_TRACE=FILE: every CDP event is appended to FILE (one JSON a line), for debugging.
const trace = process.env.BENHAN_CDP_TRACE ? fs.createWriteStream(process.env.BENHAN_CDP_TRACE, { flags: 'a' }) : null;

// One WebSocket connection to the browser endpoint; page sessions are multiplexed over it
// (Target.attachToTarget with flatten).
class Connection {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    this.closed = false;
    ws.addEventListener('message', (ev) => this.#onMessage(JSON.parse(ev.data)));
    ws.addEventListener('close', () => {
      this.closed = true;
      for (const { reject, method } of this.pending.values()) {
        reject(new Error(`CDP connection closed while waiting for ${method}`));
      }
      this.pending.clear();
    });
  }

  static async open(url, timeoutMs) {
    if (typeof globalThis.WebSocket !== 'function') {
      throw new Error('this Node has no WebSocket: use Node >= 22, or Node 20 with --experimental-websocket');
    }
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CDP connection to ${url} within ${timeoutMs} ms`)), timeoutMs);
      ws.addEventListener('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.addEventListener('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`CDP connection to ${url} failed: ${e.message || e.type}`));
      });
    });
    return new Connection(ws);
  }

  #onMessage(msg) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message} ${msg.error.data ?? ''}`.trim()));
      else p.resolve(msg.result);
      return;
    }
    if (trace) trace.write(`${JSON.stringify(msg)}\n`);
    for (const l of this.listeners) l(msg);
  }

  send(method, params = {}, sessionId = undefined) {
    if (this.closed) return Promise.reject(new Error(`CDP connection closed (${method})`));
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify(msg));
    });
  }
}

// A tab in its own browser context. Records every main-frame document: requests (method, URL),
// responses (status) and redirects, and each completed load.
class Page {
  constructor(conn, sessionId, contextId, timeoutMs) {
    this.conn = conn;
    this.sessionId = sessionId;
    this.contextId = contextId;
    this.timeoutMs = timeoutMs;
    this.url = 'about:blank';
    this.loads = [];       // URLs whose load event fired, in order
    this.documents = [];   // { method, url, status, location } for every document hop
    this.console = [];     // console messages and uncaught exceptions, for failure messages
    this.waiters = new Set();
    this.byRequest = new Map();
    this.urls = new Map();  // requestId -> 'METHOD url' of subresource and fetch requests
    conn.listeners.add((msg) => {
      if (msg.sessionId === sessionId) this.#onEvent(msg.method, msg.params);
    });
  }

  #onEvent(method, p) {
    if (method === 'Page.frameNavigated' && !p.frame.parentId) {
      this.url = p.frame.url;
    } else if (method === 'Page.navigatedWithinDocument') {
      this.url = p.url;
    } else if (method === 'Page.loadEventFired') {
      this.loads.push(this.url);
      for (const w of this.waiters) w();
    } else if (method === 'Network.requestWillBeSent' && p.type !== 'Document') {
      this.urls.set(p.requestId, `${p.request.method} ${p.request.url}`);
    } else if (method === 'Network.loadingFailed') {
      const cors = p.corsErrorStatus ? ` (CORS ${p.corsErrorStatus.corsError} ${p.corsErrorStatus.failedParameter})` : '';
      this.console.push(`request failed: ${this.urls.get(p.requestId) ?? p.requestId}: ${p.errorText}${cors}`);
    } else if (method === 'Network.requestWillBeSent' && p.type === 'Document') {
      if (p.redirectResponse) {
        const prev = this.byRequest.get(p.requestId);
        if (prev) {
          prev.status = p.redirectResponse.status;
          prev.location = p.redirectResponse.headers.location ?? p.redirectResponse.headers.Location;
        }
      }
      const doc = { method: p.request.method, url: p.request.url, status: 0, location: undefined };
      this.documents.push(doc);
      this.byRequest.set(p.requestId, doc);
    } else if (method === 'Network.responseReceived' && p.type === 'Document') {
      const doc = this.byRequest.get(p.requestId);
      if (doc) doc.status = p.response.status;
    } else if (method === 'Runtime.consoleAPICalled') {
      this.console.push(`${p.type}: ${p.args.map((a) => a.value ?? a.description).join(' ')}`);
    } else if (method === 'Runtime.exceptionThrown') {
      this.console.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
    }
  }

  send(method, params = {}) {
    return this.conn.send(method, params, this.sessionId);
  }

  // Resolves with the URL of the first load, from now on, whose URL satisfies pred. Arm it before
  // the action that navigates (a redirect chain may pass through several loads first).
  nextLoad(pred = () => true, timeoutMs = this.timeoutMs) {
    const from = this.loads.length;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.loads.length; i++) {
          if (pred(this.loads[i])) {
            this.waiters.delete(check);
            clearTimeout(timer);
            resolve(this.loads[i]);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching page load within ${timeoutMs} ms; loads: ${this.loads.slice(from).join(', ') || 'none'}; ` +
          `now at ${this.url}; console: ${this.console.join(' | ') || 'empty'}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async navigate(url) {
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigation to ${url} failed: ${r.errorText}`);
  }

  // Evaluates an expression in the page; awaits it if it is a promise; returns its JSON value.
  async evaluate(expression) {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) {
      throw new Error(`page script failed: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  // Focuses the field and types the text as keyboard input (Input.insertText).
  async type(selector, text) {
    const found = await this.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return false; e.focus(); e.value = ''; return document.activeElement === e; })()`);
    if (!found) throw new Error(`no field ${selector} to type into on ${this.url}`);
    await this.send('Input.insertText', { text });
  }

  // A real mouse click in the middle of the element (Input.dispatchMouseEvent).
  async click(selector) {
    const box = await this.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`);
    if (!box) throw new Error(`no element ${selector} to click on ${this.url}`);
    const base = { x: box.x, y: box.y, button: 'left', clickCount: 1 };
    await this.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x: box.x, y: box.y });
    await this.send('Input.dispatchMouseEvent', { type: 'mousePressed', ...base });
    await this.send('Input.dispatchMouseEvent', { type: 'mouseReleased', ...base });
  }

  // A PNG of the page as it is now.
  async screenshot(file) {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(file, Buffer.from(data, 'base64'));
  }

  // The browser's cookies for the given URLs.
  async cookies(urls) {
    return (await this.send('Network.getCookies', { urls })).cookies;
  }
}

class Browser {
  constructor(proc, conn, timeoutMs, exited) {
    this.proc = proc;
    this.conn = conn;
    this.timeoutMs = timeoutMs;
    this.exited = exited;
  }

  async newPage() {
    const { browserContextId } = await this.conn.send('Target.createBrowserContext', { disposeOnDetach: true });
    const { targetId } = await this.conn.send('Target.createTarget', { url: 'about:blank', browserContextId });
    const { sessionId } = await this.conn.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this.conn, sessionId, browserContextId, this.timeoutMs);
    await page.send('Page.enable');
    await page.send('Network.enable');
    await page.send('Runtime.enable');
    return page;
  }

  async closePage(page) {
    await this.conn.send('Target.disposeBrowserContext', { browserContextId: page.contextId });
  }

  // Browser.close, then SIGKILL to the process group we started if it has not exited in time.
  async close(timeoutMs = 15000) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      if (!this.conn.closed) await this.conn.send('Browser.close');
    } catch {
      // already going away
    }
    let timer;
    const gone = await Promise.race([
      this.exited.then(() => true),
      new Promise((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(timer);
    this.killGroup();
    if (!gone) await this.exited;
  }

  // SIGKILL to every process left in the group we created for chromium (renderers, zygote).
  killGroup() {
    try {
      process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
  }
}

// Starts chromium headless on profileDir (its own process group), waits for the DevToolsActivePort
// file it writes there, and connects to the browser endpoint it names.
export async function launchChromium({ executable, profileDir, logFile, timeoutMs = 60000 }) {
  const args = [
    '--headless=new',
    '--remote-debugging-port=0',
    `--user-data-dir=${profileDir}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--password-store=basic',
    // Containers often give /dev/shm only 64 MB, where chromium's renderers crash; /tmp instead.
    '--disable-dev-shm-usage',
    'about:blank',
  ];
  // Chromium refuses to start as root with its sandbox on.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.unshift('--no-sandbox');
  const proc = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  proc.stderr.pipe(log);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  // If this test process ends first (a failure, ctest's timeout), chromium's group goes with it.
  const killGroup = () => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const onSignal = (sig) => {
    killGroup();
    process.kill(process.pid, sig);
  };
  process.once('exit', killGroup);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  exited.then(() => {
    process.off('exit', killGroup);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  });
  const portFile = path.join(profileDir, 'DevToolsActivePort');
  let wsUrl;
  try {
    wsUrl = await new Promise((resolve, reject) => {
      const read = () => {
        let text;
        try {
          text = fs.readFileSync(portFile, 'utf8');
        } catch {
          return false;
        }
        const [port, p] = text.split('\n');
        if (!port || !p) return false;
        resolve(`ws://127.0.0.1:${Number(port)}${p.trim()}`);
        return true;
      };
      // The file appears in the profile dir; chromium also says "DevTools listening" on stderr.
      const check = () => { if (read()) done(); };
      const watcher = fs.watch(profileDir, check);
      proc.stderr.on('data', check);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`chromium wrote no ${portFile} within ${timeoutMs} ms (log: ${logFile})`));
      }, timeoutMs);
      const done = () => {
        watcher.close();
        proc.stderr.off('data', check);
        clearTimeout(timer);
      };
      proc.on('error', (err) => {
        done();
        reject(new Error(`cannot start ${executable}: ${err.message}`));
      });
      exited.then(({ code, signal }) => {
        done();
        reject(new Error(`chromium exited at start (code ${code}, signal ${signal}); log: ${logFile}`));
      });
      if (read()) done();
    });
  } catch (err) {
    killGroup();
    throw err;
  }
  const conn = await Connection.open(wsUrl, timeoutMs);
  return new Browser(proc, conn, timeoutMs, exited);
}
