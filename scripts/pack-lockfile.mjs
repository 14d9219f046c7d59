#!/usr/bin/env node
// `npm pack` ships the lockfile as npm-shrinkwrap.json, so `npm install zonegate-*.tgz` gets
// the exact dependency versions this checkout was tested with (npm honours a dependency's
// shrinkwrap, never its package-lock.json). prepack writes it, postpack removes it.
import { copyFileSync, rmSync } from 'node:fs';

if (process.argv[2] === '--remove') rmSync('npm-shrinkwrap.json', { force: true });
else copyFileSync('package-lock.json', 'npm-shrinkwrap.json');
