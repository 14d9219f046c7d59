import { UsageError } from '../../core/errors.js';
import { STORE_OPTIONS, STORE_USAGE, changeFlagsFrom, openStoreFrom } from '../../drill/cli-options.js';
import { flag } from '../../core/args.js';
import type { Command } from '../command.js';

export const mapDiff: Command = {
  name: 'map diff',
  summary: 'Show what applying a zone map file would change: fields, shard moves, colours, standbys.',
  usage: `zonegate map diff FILE ${STORE_USAGE} [--max-move-percent N] [--json]`,
  options: { ...STORE_OPTIONS, 'max-move-percent': { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('name exactly one zone map file');
    const { compileZoneMap, loadZoneMapText, readDocumentFile } = await import('../../zonemap/index.js');
    const { blastRadius, formatBlastRadius, guardRailViolations, readCurrent } =
      await import('../../drill/index.js');
    const next = loadZoneMapText(await readDocumentFile(file), file);
    const flags = changeFlagsFrom(values);
    const store = await openStoreFrom(values);
    try {
      const current = await readCurrent(store);
      const prev = current.doc === null ? null : compileZoneMap(current.doc);
      const radius = blastRadius(prev, next);
      const violations = guardRailViolations(radius, flags);
      const conflict = current.version !== null && current.version !== next.version;
      if (flag(values, 'json')) {
        io.out(
          JSON.stringify(
            {
              store: store.description,
              storeVersion: current.version,
              storedMapProblem: current.problem?.message ?? null,
              file,
              basedOn: next.version,
              blastRadius: radius,
              violations,
              conflict,
            },
            null,
            2,
          ),
        );
        return 0;
      }
      if (current.problem !== null) io.err(`note: the stored map is invalid: ${current.problem.message}`);
      io.out(`store version ${current.version ?? 'none'} -> ${file} (based on version ${next.version})`);
      for (const line of formatBlastRadius(radius)) io.out(line);
      if (violations.length > 0) {
        io.out(
          `map apply would be refused without --force:\n${violations.map((v) => `  - ${v}`).join('\n')}`,
        );
      }
      if (conflict) {
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
