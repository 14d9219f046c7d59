import { UsageError } from '../../core/errors.js';
import type { Command } from '../command.js';

export const completion: Command = {
  name: 'completion',
  summary: 'Print a shell completion script: source <(zonegate completion bash), or zsh.',
  usage: 'zonegate completion bash|zsh',
  options: {},
  allowPositionals: true,
  async run({ positionals }, io) {
    const [shell, ...extra] = positionals;
    if ((shell !== 'bash' && shell !== 'zsh') || extra.length > 0)
      throw new UsageError('name one shell: bash or zsh');
    // The table imports this file: load it (and the generator) only when asked.
    const { commands } = await import('./index.js');
    const { bashCompletion, zshCompletion } = await import('../completion.js');
    io.out(shell === 'bash' ? bashCompletion(commands) : zshCompletion(commands));
    return 0;
  },
};
