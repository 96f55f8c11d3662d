// e2e.sigterm_clean_exit: SIGTERM and SIGINT stop `benhan serve` through its own shutdown path
// (listener closed, queued read-audit events flushed, exit status 0), not by the default signal
// action. Regression test: the signal mask was set after Node::Open had started the audit-log
// thread, so that thread, with SIGTERM unblocked, received the signal and the process died of it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { makeTempDir, readAdminToken, startServer } from './harness.mjs';

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} stops benhan with exit status 0`, async () => {
    const tmp = makeTempDir(`sigterm-${sig}`);
    const dataDir = path.join(tmp.dir, 'data');
    let ok = false;
    let server;
    try {
      server = await startServer({ dataDir, logFile: path.join(tmp.dir, 'server.log') });
      // One authenticated read, so the audit queue has something to flush on the way out.
      const res = await fetch(`${server.baseUrl}/Patient`, {
        headers: { authorization: `Bearer ${readAdminToken(dataDir)}` },
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      process.kill(server.pid, sig);
      const { code, signal } = await server.exited;
      server = null;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, `benhan died of ${signal} instead of stopping`);
      ok = true;
    } finally {
      if (server) await server.kill9();
      tmp.done(ok);
    }
  });
}
