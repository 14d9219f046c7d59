import { UsageError } from '../../core/errors.js';
import { flag, optionalString } from '../../core/args.js';
import type { Command } from '../command.js';

export const certsInit: Command = {
  name: 'certs init',
  summary:
    'Write a dev CA, a server cert (localhost, 127.0.0.1), a client cert with a uid (PEM + PKCS#12), an empty CRL and a cookie secret.',
  usage:
    'zonegate certs init DIR [--uid 4242] [--p12-password zonegate] [--dns NAME,...] [--ip ADDR,...] [--json]',
  options: {
    uid: { type: 'string' },
    'p12-password': { type: 'string' },
    dns: { type: 'string' },
    ip: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const dir = positionals[0];
    if (dir === undefined || positionals.length > 1) throw new UsageError('give exactly one DIR');
    const list = (name: string): string[] | undefined =>
      optionalString(values, name)
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    const dns = list('dns');
    const ip = list('ip');
    const uid = optionalString(values, 'uid') ?? '4242';
    // Only this command needs the certificate libraries: loaded here, not when the CLI starts.
    const { initCerts } = await import('../../certs/init.js');
    const r = await initCerts(dir, {
      uid,
      p12Password: optionalString(values, 'p12-password') ?? 'zonegate',
      ...(dns === undefined ? {} : { serverNames: dns }),
      ...(ip === undefined ? {} : { serverIps: ip }),
    });
    if (flag(values, 'json')) {
      io.out(JSON.stringify({ uid, uri: `urn:zonegate:uid:${uid}`, files: r.files }, null, 2));
      return 0;
    }
    for (const [role, path] of Object.entries(r.files)) io.out(`${role.padEnd(12)} ${path}`);
    io.out(`client cert uid: ${uid} (SAN URI urn:zonegate:uid:${uid}); private keys are mode 0600`);
    return 0;
  },
};
