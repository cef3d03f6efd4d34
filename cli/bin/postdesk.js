#!/usr/bin/env node
// The `postdesk` command. The CLI is TypeScript run through tsx, so `npx postdesk` works on a fresh
// clone without a build step; the Lambda functions are bundled separately by esbuild.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv.slice(2));
