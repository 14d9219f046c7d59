import { InvalidZoneMapError, UsageError, formatProblem } from '../../core/errors.js';
import { loadZoneMapText, readDocumentFile } from '../../zonemap/index.js';
import type { Command } from '../command.js';

export const mapValidate: Command = {
  name: 'map validate',
  summary: 'Check zone map files against the schema and the semantic rules; list every problem.',
  usage: 'zonegate map validate FILE [FILE...]',
  options: {},
  allowPositionals: true,
  async run({ positionals }, io) {
    if (positionals.length === 0) throw new UsageError('name at least one zone map file');
    let bad = 0;
    for (const file of positionals) {
      try {
        const map = loadZoneMapText(await readDocumentFile(file), file);
        const kinds = { rzone: 0, gzone: 0, czone: 0 };
        for (const z of map.zones) kinds[z.kind]++;
        io.out(
          `${file}: ok (version ${map.version}, ${map.shards} shards, ${map.cities.size} cities, ` +
            `${map.idcs.size} IDCs, ${kinds.rzone} rzones, ${kinds.gzone} gzone, ${kinds.czone} czones)`,
        );
      } catch (err) {
        if (!(err instanceof InvalidZoneMapError)) throw err;
        bad++;
        io.err(`${file}: invalid, ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}:`);
        for (const p of err.problems) io.err(`  ${formatProblem(p)}`);
      }
    }
    return bad === 0 ? 0 : 2;
  },
};
