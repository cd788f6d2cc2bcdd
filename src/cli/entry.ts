import { main } from './main.js';

/**
 * The process entry point (bin/twcloud-scaler.js, the single-file bundle, `npm start`): runs the CLI whatever this
 * file is called. It never calls `process.exit` right after output: that would cut what is still queued for a pipe
 * (`simulate --json | jq` got the first 64 KiB only). The exit code is set and the event loop ends by itself once
 * stdout and stderr have drained; should a forgotten handle keep it alive, the process exits 2 s after they drained.
 */

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

function finish(code: number): void {
  // A command may have set its own code already (the demo's leftovers): keep it unless this one is a failure.
  if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
  void Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => {
    setTimeout(() => process.exit(), 2000).unref();
  });
}

// A reader that goes away (`| head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

main({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() }).then(finish, (e: unknown) => {
  process.stderr.write(`twcloud-scaler: ${String(e)}\n`);
  finish(1);
});
