import { flag, requiredString } from '../../core/args.js';
import type { Command } from '../command.js';

export const configCheck: Command = {
  name: 'config check',
  summary:
    'Check a gateway config and all it points to (zone map file or Redis store, TLS files, cookie keys, ' +
    'admin token) without binding any port: exit 0 when start would have what it needs, 2 with every reason.',
  usage: 'zonegate config check -c CONFIG [--json]',
  options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
  allowPositionals: false,
  async run({ values }, io) {
    const file = requiredString(values, 'config');
    const { checkConfigFile } = await import('../../gateway/config-check.js');
    const report = await checkConfigFile(file);
    if (flag(values, 'json')) {
      io.out(JSON.stringify(report, null, 2));
    } else {
      for (const i of report.items)
        (i.ok ? io.out : io.err)(`${i.ok ? 'ok  ' : 'FAIL'} ${i.what}: ${i.detail}`);
      const bad = report.items.filter((i) => !i.ok).length;
      if (report.ok) io.out(`${file}: configuration ok (zone map from ${report.zonemapSource ?? '?'})`);
      else io.err(`${file}: ${bad} problem${bad === 1 ? '' : 's'}; start would refuse this configuration`);
    }
    return report.ok ? 0 : 2;
  },
};
