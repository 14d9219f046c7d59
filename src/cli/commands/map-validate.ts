import { InvalidZoneMapError, UsageError, formatProblem, type Problem } from '../../core/errors.js';
import { flag } from '../../core/args.js';
import type { Command } from '../command.js';

interface FileResult {
  readonly file: string;
  readonly ok: boolean;
  readonly version?: number;
  readonly shards?: number;
  readonly cities?: number;
  readonly idcs?: number;
  readonly zones?: { readonly rzone: number; readonly gzone: number; readonly czone: number };
  readonly problems: readonly Problem[];
}

export const mapValidate: Command = {
  name: 'map validate',
  summary: 'Check zone map files against the schema and the semantic rules; list every problem.',
  usage: 'zonegate map validate FILE [FILE...] [--json]',
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('name at least one zone map file');
    const { loadZoneMapText, readDocumentFile } = await import('../../zonemap/index.js');
    const results: FileResult[] = [];
    for (const file of positionals) {
      try {
        const map = loadZoneMapText(await readDocumentFile(file), file);
        const zones = { rzone: 0, gzone: 0, czone: 0 };
        for (const z of map.zones) zones[z.kind]++;
        results.push({
          file,
          ok: true,
          version: map.version,
          shards: map.shards,
          cities: map.cities.size,
          idcs: map.idcs.size,
          zones,
          problems: [],
        });
      } catch (err) {
        if (!(err instanceof InvalidZoneMapError)) throw err;
        results.push({ file, ok: false, problems: err.problems });
      }
    }
    if (flag(values, 'json')) io.out(JSON.stringify(results, null, 2));
    else {
      for (const r of results) {
        if (r.ok) {
          const z = r.zones ?? { rzone: 0, gzone: 0, czone: 0 };
          io.out(
            `${r.file}: ok (version ${r.version}, ${r.shards} shards, ${r.cities} cities, ` +
              `${r.idcs} IDCs, ${z.rzone} rzones, ${z.gzone} gzone, ${z.czone} czones)`,
          );
          continue;
        }
        const n = r.problems.length;
        io.err(`${r.file}: invalid, ${n} problem${n === 1 ? '' : 's'}:`);
        for (const p of r.problems) io.err(`  ${formatProblem(p)}`);
      }
    }
    return results.every((r) => r.ok) ? 0 : 2;
  },
};
