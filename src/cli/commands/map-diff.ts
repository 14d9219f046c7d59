import { UsageError } from '../../core/errors.js';
import {
  STORE_OPTIONS,
  STORE_USAGE,
  blastRadius,
  changeFlagsFrom,
  formatBlastRadius,
  guardRailViolations,
  readCurrent,
  openStoreFrom,
} from '../../drill/index.js';
import { compileZoneMap, loadZoneMapText, readDocumentFile } from '../../zonemap/index.js';
import type { Command } from '../command.js';

export const mapDiff: Command = {
  name: 'map diff',
  summary: 'Show what applying a zone map file would change: fields, shard moves, colours, standbys.',
  usage: `zonegate map diff FILE ${STORE_USAGE} [--max-move-percent N]`,
  options: { ...STORE_OPTIONS, 'max-move-percent': { type: 'string' } },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('name exactly one zone map file');
    const next = loadZoneMapText(await readDocumentFile(file), file);
    const flags = changeFlagsFrom(values);
    const store = await openStoreFrom(values);
    try {
      const current = await readCurrent(store);
      if (current.problem !== null) io.err(`note: the stored map is invalid: ${current.problem.message}`);
      const prev = current.doc === null ? null : compileZoneMap(current.doc);
      io.out(`store version ${current.version ?? 'none'} -> ${file} (based on version ${next.version})`);
      const radius = blastRadius(prev, next);
      for (const line of formatBlastRadius(radius)) io.out(line);
      const violations = guardRailViolations(radius, flags);
      if (violations.length > 0) {
        io.out(
          `map apply would be refused without --force:\n${violations.map((v) => `  - ${v}`).join('\n')}`,
        );
      }
      if (current.version !== null && current.version !== next.version) {
        io.out(
          `map apply would conflict: the file is based on version ${next.version}, the store holds ${current.version}`,
        );
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
