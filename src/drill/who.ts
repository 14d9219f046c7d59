import { hostname, userInfo } from 'node:os';

/** `user@host` of whoever runs a command, recorded in the history with every write. */
export function whoRan(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (common in containers).
    user = process.env['USER'] ?? process.env['LOGNAME'] ?? `uid${process.getuid?.() ?? '?'}`;
  }
  return `${user}@${hostname()}`;
}
