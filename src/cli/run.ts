// Source entry point for tests and development: `node --import tsx src/cli/run.ts ARGS...`.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
