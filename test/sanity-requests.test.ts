import { describe, expect, it } from 'vitest';
import { interpretFrame } from '../src/sources/sanity/frames.js';
import {
  buildDocumentsUrl,
  buildListenUrl,
  buildTransactionsUrl,
  chunkIds,
  type SanityListenConfig,
} from '../src/sources/sanity/requests.js';

const config: SanityListenConfig = {
  projectId: 'abc123',
  dataset: 'production',
  baseUrl: 'https://abc123.api.sanity.io',
  apiVersion: 'v2025-02-19',
  query: '*[_type == $type && count(tags) > $min]',
  params: { type: 'post', min: 2 },
  includeResult: true,
  includePreviousRevision: false,
  includeAllVersions: true,
  visibility: 'query',
  tag: 'sse-sink.posts',
};

const frame = (event: string, data: string, id?: string) => ({ event, data, id });

describe('Sanity listen URL', () => {
  it('puts the query, JSON-encoded $params and every option in the query string', () => {
    const url = new URL(buildListenUrl(config, 'enable-resume'));
    expect(`${url.origin}${url.pathname}`).toBe('https://abc123.api.sanity.io/v2025-02-19/data/listen/production');
    expect([...url.searchParams]).toEqual([
      ['tag', 'sse-sink.posts'],
      ['query', '*[_type == $type && count(tags) > $min]'],
      ['$type', '"post"'],
      ['$min', '2'],
      ['includeResult', 'true'],
      ['includePreviousRevision', 'false'],
      ['includeAllVersions', 'true'],
      ['visibility', 'query'],
      ['enableResume', 'true'],
    ]);
    // Sanity reads `$type="post"`: the quotes are part of the value, percent-encoded.
    expect(url.search).toContain('%24type=%22post%22');
  });

  it('asks for resume with enableResume=true only in enable-resume mode', () => {
    expect(new URL(buildListenUrl(config, 'last-event-id')).searchParams.has('enableResume')).toBe(false);
    expect(new URL(buildListenUrl(config, 'off')).searchParams.has('enableResume')).toBe(false);
  });

  it('sends includeResult=false explicitly and leaves out what was not asked for', () => {
    const url = new URL(buildListenUrl({ ...config, includeResult: false, includeAllVersions: false, tag: undefined, params: {} }, 'off'));
    expect(url.searchParams.get('includeResult')).toBe('false');
    expect(url.searchParams.has('includeAllVersions')).toBe(false);
    expect(url.searchParams.has('tag')).toBe(false);
  });
});

describe('Sanity catch-up URLs', () => {
  it('asks the History API for the transactions of several documents, as the Studio does: excludeContent and a limit', () => {
    const url = new URL(buildTransactionsUrl(config, ['post-1', 'drafts.post-1', 'versions.r1.post-1'], { fromTime: '2026-03-01T09:00:00.000000Z', limit: 250, excludeContent: true }));
    expect(url.pathname).toBe('/v2025-02-19/data/history/production/transactions/post-1,drafts.post-1,versions.r1.post-1');
    expect(url.searchParams.get('fromTime')).toBe('2026-03-01T09:00:00.000000Z');
    expect(url.searchParams.get('excludeContent')).toBe('true');
    expect(url.searchParams.get('limit')).toBe('250');
  });

  it('lists the whole dataset\'s transactions when given no document ids', () => {
    const url = new URL(buildTransactionsUrl(config, undefined, { fromTime: '2026-03-01T09:00:00.000000Z', toTime: '2026-03-02T09:00:00.000000Z', limit: 50, excludeContent: true }));
    expect(url.pathname).toBe('/v2025-02-19/data/history/production/transactions');
    expect(url.searchParams.get('toTime')).toBe('2026-03-02T09:00:00.000000Z');
  });

  it('asks for several documents at one revision, or at a time', () => {
    const url = new URL(buildDocumentsUrl(config, ['drafts.post-1', 'post-1'], { revision: 'tx-9' }));
    expect(url.pathname).toBe('/v2025-02-19/data/history/production/documents/drafts.post-1,post-1');
    expect(url.searchParams.get('revision')).toBe('tx-9');
    expect(new URL(buildDocumentsUrl(config, ['post-1'], { time: '2026-03-01T09:00:00.000000Z' })).searchParams.get('time')).toBe('2026-03-01T09:00:00.000000Z');
  });

  it('splits long id lists so that no URL grows past the limit, keeping every id once', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `drafts.document-with-a-long-id-${i}`);
    const chunks = chunkIds(ids, 2000);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(ids);
    for (const chunk of chunks) expect(chunk.map(encodeURIComponent).join(',').length).toBeLessThanOrEqual(2000);
  });
});

describe('Sanity listen frames', () => {
  it('reads the greetings', () => {
    expect(interpretFrame(frame('welcome', '{"listenerName":"Ua6BR3GwQ14cnZXrgwCdsF"}'))).toEqual({ kind: 'welcome', listenerName: 'Ua6BR3GwQ14cnZXrgwCdsF' });
    expect(interpretFrame(frame('welcomeback', '{"listenerName":"x"}'))).toEqual({ kind: 'welcomeback', listenerName: 'x' });
    expect(interpretFrame(frame('reset', '{}'))).toEqual({ kind: 'reset' });
  });

  it('passes a mutation on with its id', () => {
    expect(interpretFrame(frame('mutation', '{"a":1}', 'tx#doc'))).toEqual({ kind: 'mutation', data: '{"a":1}', id: 'tx#doc' });
  });

  it('takes an empty id: line for no id, as the Auth0 frames do: it is nothing to resume from', () => {
    expect(interpretFrame(frame('mutation', '{"a":1}', ''))).toEqual({ kind: 'mutation', data: '{"a":1}', id: null });
  });

  it.each([
    ['{"message":"Unfortunate error"}', 'Unfortunate error', false],
    ['{"error":{"description":"unexpected token \\"]\\", expected expression","type":"queryParseError"}}', 'unexpected token "]", expected expression', true],
    ['{"message":"Invalid GROQ query: param $type referenced, but not provided"}', 'Invalid GROQ query: param $type referenced, but not provided', true],
    ['not json', 'not json', false],
  ])('reads the channelError %s and tells a query error apart', (data, message, queryError) => {
    expect(interpretFrame(frame('channelError', data))).toEqual({ kind: 'channelError', message, queryError });
  });

  it('turns a frame over the size limit into a dead letter candidate that keeps its start and id', () => {
    const oversize = { bytes: 25_000_000, preview: '{"eventId":"tx9#post-1","documentId":"post-1",' };
    expect(interpretFrame({ event: 'mutation', id: 'tx9#post-1', data: '', oversize })).toEqual({
      kind: 'oversize',
      event: 'mutation',
      id: 'tx9#post-1',
      preview: oversize.preview,
      reason: 'frame of 25000000 bytes is larger than --max-frame-bytes allows; only its start is kept',
    });
  });

  it('reads an error event with data as a channelError (terminal in @sanity/client), and one without as unknown', () => {
    expect(interpretFrame(frame('error', '{"message":"listener failed"}'))).toEqual({ kind: 'channelError', message: 'listener failed', queryError: false });
    expect(interpretFrame(frame('error', ''))).toEqual({ kind: 'unknown', event: 'error', data: '' });
  });

  it('reads a disconnect with or without a reason', () => {
    expect(interpretFrame(frame('disconnect', '{"reason":"dataset deleted"}'))).toEqual({ kind: 'disconnect', reason: 'dataset deleted' });
    expect(interpretFrame(frame('disconnect', ''))).toEqual({ kind: 'disconnect', reason: 'no reason given' });
  });

  it('treats preamble padding as a keep-alive and an unknown event as unknown', () => {
    expect(interpretFrame(frame('message', ' '.repeat(2048)))).toEqual({ kind: 'keepalive' });
    expect(interpretFrame(frame('preamble', ''))).toEqual({ kind: 'keepalive' });
    expect(interpretFrame(frame('surprise', '{}'))).toEqual({ kind: 'unknown', event: 'surprise', data: '{}' });
  });
});
