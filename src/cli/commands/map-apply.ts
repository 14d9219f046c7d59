import { UsageError } from '../../core/errors.js';
import {
  CHANGE_OPTIONS,
  CHANGE_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  changeFlagsFrom,
  openStoreFrom,
} from '../../drill/cli-options.js';
import type { Command } from '../command.js';

export const mapApply: Command = {
  name: 'map apply',
  summary:
    "Write a zone map file to the store. The file's version is the one it was edited from: " +
    'if the store has moved on since, the write is refused as a conflict.',
  usage: `zonegate map apply FILE ${STORE_USAGE} ${CHANGE_USAGE}`,
  options: { ...STORE_OPTIONS, ...CHANGE_OPTIONS },
  allowPositionals: true,
  async run({ values, positionals }, io) {
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('name exactly one zone map file');
    const { loadZoneMapText, readDocumentFile } = await import('../../zonemap/index.js');
    const { runChange } = await import('../../drill/index.js');
    // Invalid files stop here with every problem listed (exit 2), before Redis is touched.
    const map = loadZoneMapText(await readDocumentFile(file), file);
    return runChange(
      await openStoreFrom(values),
      changeFlagsFrom(values),
      {
        action: `map apply ${file}`,
        build: () => map.doc,
        // An empty store takes any file; otherwise compare-and-set on the file's own version.
        basedOn: (cur) => (cur.version === null ? null : map.version),
      },
      io,
    );
  },
};
