// Shared helpers for the end-to-end tests in tests/e2e: locate the benhan binary, start and stop a
// server on a fresh temp dir (port 0, token mode), and keep the temp dir when a test fails.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// The repository root: BENHAN_SOURCE_DIR (set by ctest) or two levels up from this file.
export const sourceDir = process.env.BENHAN_SOURCE_DIR || path.resolve(here, '..', '..');

// The shared data sets (Synthea bundles...), next to the repository: ${source}/../shared/data.
export const sharedDataDir = path.resolve(sourceDir, '..', 'shared', 'data');

// The benhan executable: BENHAN_BIN (set by ctest) or the usual build dir, for running by hand.
export function benhanBin() {
  const bin = process.env.BENHAN_BIN || path.join(sourceDir, 'build-e2e', 'src', 'app', 'benhan');
  if (!fs.existsSync(bin)) {
    throw new Error(`benhan binary not found at ${bin} (set BENHAN_BIN)`);
  }
  return bin;
}

// A temp dir for one test. Call done(true) on success to remove it; on failure it is kept and its
// path printed, with the server logs inside.
export function makeTempDir(label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `benhan-e2e-${label}-`));
  return {
    dir,
    done(ok) {
      if (ok) {
        fs.rmSync(dir, { recursive: true, force: true });
      } else {
        process.stderr.write(`# ${label}: test failed, temp dir kept at ${dir}\n`);
      }
    },
  };
}

const LISTEN_RE = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/fhir)/;

// Starts `benhan serve --listen 127.0.0.1:0 --data dataDir` and resolves once it logs its port.
// The server's stderr is appended to logFile. Returns { proc, pid, baseUrl, port, exited, stop, kill9 }.
export async function startServer({ dataDir, logFile, extraArgs = [], timeoutMs = 60000 }) {
  const bin = benhanBin();
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, ...extraArgs];
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  let stderr = '';
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`benhan did not report its port within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    proc.stderr.on('data', (chunk) => {
      log?.write(chunk);
      if (stderr.length < 1 << 20) stderr += chunk.toString();
      const m = LISTEN_RE.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`benhan exited before listening (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });
  const server = {
    proc,
    pid: proc.pid,
    baseUrl,
    port: Number(LISTEN_RE.exec(stderr)[2]),
    exited,
    stderr: () => stderr,
    // SIGTERM, then wait for a clean exit; SIGKILL and throw if it does not stop in time.
    async stop(timeoutMs = 20000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      process.kill(proc.pid, 'SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      });
      const result = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (result === null) {
        process.kill(proc.pid, 'SIGKILL');
        await exited;
        throw new Error(`benhan (pid ${proc.pid}) did not stop within ${timeoutMs} ms of SIGTERM`);
      }
      log?.end();
      return result;
    },
    // kill -9 by PID, and wait until the process is gone.
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
      const result = await exited;
      log?.end();
      return result;
    },
  };
  return server;
}

export function readAdminToken(dataDir) {
  return fs.readFileSync(path.join(dataDir, 'secrets', 'admin.token'), 'utf8').trim();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Runs fn over items with at most `limit` calls in flight; resolves to the results in order.
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
