import { UsageError } from '../../core/errors.js';
import type { Command } from '../command.js';

/**
 * `zonegate completion`: built from the table it completes. The table (./index.ts) hands itself
 * in, so this file never imports the table that lists it.
 */
export function completionCommand(table: () => readonly Command[]): Command {
  return {
    name: 'completion',
    summary: 'Print a shell completion script: source <(zonegate completion bash), or zsh.',
    usage: 'zonegate completion bash|zsh',
    options: {},
    allowPositionals: true,
    async run({ positionals }, io) {
      const [shell, ...extra] = positionals;
      if ((shell !== 'bash' && shell !== 'zsh') || extra.length > 0)
        throw new UsageError('name one shell: bash or zsh');
      // The generator is loaded only when asked: every other command's start stays light.
      const { bashCompletion, zshCompletion } = await import('../completion.js');
      io.out(shell === 'bash' ? bashCompletion(table()) : zshCompletion(table()));
      return 0;
    },
  };
}
