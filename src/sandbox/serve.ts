import { listen, type FetchApp, type Listening } from '../util/serve.js';

export type { FetchApp } from '../util/serve.js';

export type ServedFake = Pick<Listening, 'url' | 'port' | 'close'>;

/** Serves a fake on 127.0.0.1 (never another interface). Port 0 picks a free port. */
export function serveFake(app: FetchApp, port = 0): Promise<ServedFake> {
  return listen(app, '127.0.0.1', port);
}
