import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { subscribeMetrics } from '../../src/admin/http-metrics.js';
import { createMetrics } from '../../src/admin/metrics.js';
import { createLogger, subscribeLog } from '../../src/core/logger.js';
import { busOf, startHarness } from './harness.js';

describe('a bug while handling a request (ZG_ERR_INTERNAL)', () => {
  it('answers 500, logs the error with its stack, counts it, and keeps serving', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const metrics = createMetrics();
    const h = await startHarness({
      events: busOf((b) => {
        subscribeMetrics(b, metrics, { listeners: [] });
        subscribeLog(b, createLogger({ level: 'info' }, stream), null);
      }),
    });
    try {
      const identifier = h.gw.http.ctx.identifier;
      const real = identifier.identify.bind(identifier);
      // A bug planted in the identity stage for requests carrying this header.
      identifier.identify = (uid, cookie, cert) => {
        if (uid === 'boom') throw new Error('planted bug');
        return real(uid, cookie, cert);
      };
      const r = await request(`${h.url}/x`, { headers: { 'x-ldc-uid': 'boom' } });
      assert.equal(r.statusCode, 500);
      assert.equal(r.headers['x-ldc-reason'], 'ZG_ERR_INTERNAL');
      await r.body.text();
      const logged = lines.map((l) => JSON.parse(l) as { code?: string; err?: { stack?: string } });
      const entry = logged.find((l) => l.code === 'ZG_ERR_INTERNAL');
      assert.match(entry?.err?.stack ?? '', /planted bug/);
      assert.match(
        await metrics.registry.metrics(),
        /^zonegate_http_requests_total\{protocol="http",zone="",colour="",reason="ZG_ERR_INTERNAL",status_class="5xx"\} 1$/m,
      );
      assert.match(
        await metrics.registry.metrics(),
        /^zonegate_internal_errors_total\{protocol="http"\} 1$/m,
      );
      const ok = await request(`${h.url}/x`, { headers: { 'x-ldc-uid': '1' } });
      assert.equal(ok.statusCode, 200);
      await ok.body.text();
    } finally {
      await h.close();
    }
  });
});
