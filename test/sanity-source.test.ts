// The Sanity source read directly, against the real SSE test server: what it yields and how its
// events normalize, apart from the runner.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/common/log.js';
import { isNormalizeFailure, type NormalizeResult } from '../src/core/change.js';
import { SanitySource, type SanityUpstreamEvent } from '../src/sources/sanity/source.js';
import { nothingStored } from './helpers/store.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';

let server: SseTestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const mutation = (tx: string, documentId: string) =>
  JSON.stringify({ documentId, transactionId: tx, transition: 'appear', timestamp: '2026-01-01T00:00:00Z', result: { _id: documentId, _type: 'post' } });

const eventIdOf = (result: NormalizeResult) => (isNormalizeFailure(result) ? 'not normalized' : result.history.eventId);

describe('the Sanity source', () => {
  it('normalizes each event from its own frame, whichever event it is asked about and in any order', async () => {
    server = await startSseTestServer(() => ({
      steps: [
        { frame: { event: 'welcome', data: '{"listenerName":"t"}' } },
        { frame: { event: 'mutation', id: 'tx1#a', data: mutation('tx1', 'a') } },
        { frame: { event: 'mutation', id: 'tx2#b', data: '{"documentId":' } },
        { frame: { event: 'mutation', id: 'tx3#c', data: mutation('tx3', 'c') } },
        { sleep: 10_000 },
      ],
    }));
    const source = new SanitySource({ config: simulatedDatasetConfig(server.url), resume: 'enable-resume', token: () => undefined });
    const stop = new AbortController();
    const events: SanityUpstreamEvent[] = [];
    const asTheyCame: string[] = [];
    for await (const item of source.read({ cursor: null, since: null, lastEventAt: null, stored: nothingStored, signal: stop.signal, log: createLogger({ write: () => {} }) })) {
      if (item.kind !== 'event') continue;
      events.push(item);
      asTheyCame.push(eventIdOf(source.normalize(item)));
      if (events.length === 3) stop.abort();
    }
    const expected = ['tx1#a', 'not normalized', 'tx3#c'];
    expect(asTheyCame).toEqual(expected);
    const backwards = [2, 1, 0].map((i) => eventIdOf(source.normalize(events[i])));
    expect(backwards.reverse()).toEqual(expected);
  });
});
