import { describe, expect, it } from 'vitest';
import { interpretAuth0Frame } from '../src/sources/auth0/frames.js';
import { auth0StreamConfig, auth0Timestamp, buildEventsUrl, eventsRequestHeaders } from '../src/sources/auth0/requests.js';

const config = auth0StreamConfig('acme.us.auth0.com', undefined, []);

describe('Auth0 events request', () => {
  it('asks for the latest events when there is neither cursor nor start time', () => {
    expect(buildEventsUrl(config, { cursor: null, fromTime: null })).toBe('https://acme.us.auth0.com/api/v2/events');
  });

  it('resumes after the stored cursor, and never sends from_timestamp with it', () => {
    const url = new URL(buildEventsUrl(config, { cursor: 'MTIz+/==', fromTime: '2026-03-01T00:00:00.000000Z' }));
    expect(url.searchParams.get('from')).toBe('MTIz+/==');
    expect(url.searchParams.has('from_timestamp')).toBe(false);
  });

  it('starts at a time in the YYYY-MM-DDTHH:MM:SSZ form when there is no cursor', () => {
    const url = new URL(buildEventsUrl(config, { cursor: null, fromTime: '2026-03-01T09:30:15.250000Z' }));
    expect(url.searchParams.get('from_timestamp')).toBe('2026-03-01T09:30:15Z');
    expect(url.searchParams.has('from')).toBe(false);
    expect(auth0Timestamp('2026-03-01T09:30:15.999999Z')).toHaveLength(20);
  });

  it('repeats event_type once per filtered type, sorted and without repeats', () => {
    const filtered = auth0StreamConfig('acme.us.auth0.com', undefined, ['user.updated', 'user.created', 'user.updated']);
    expect(filtered.eventTypes).toEqual(['user.created', 'user.updated']);
    const url = new URL(buildEventsUrl(filtered, { cursor: 'c1', fromTime: null }));
    expect(url.searchParams.getAll('event_type')).toEqual(['user.created', 'user.updated']);
  });

  it('uses --url as the base, keeping its path for proxies', () => {
    const proxied = auth0StreamConfig('acme.us.auth0.com', 'http://127.0.0.1:8080/auth0', []);
    expect(buildEventsUrl(proxied, { cursor: null, fromTime: null })).toBe('http://127.0.0.1:8080/auth0/api/v2/events');
  });

  it('sends the bearer token and asks for an event stream', () => {
    expect(eventsRequestHeaders('tok')).toEqual({ Authorization: 'Bearer tok', Accept: 'text/event-stream' });
  });
});

describe('Auth0 frames', () => {
  it('reads an event frame: its id is the cursor and its data is kept as is', () => {
    const data = '{"offset":"b2Zm","event":{"id":"evt_1"}}';
    expect(interpretAuth0Frame({ event: 'user.created', id: 'b2Zm', data })).toEqual({ kind: 'event', type: 'user.created', data, cursor: 'b2Zm' });
  });

  it('falls back to data.offset when an event frame has no id', () => {
    const frame = interpretAuth0Frame({ event: 'user.created', id: undefined, data: '{"offset":"b2Zm","event":{}}' });
    expect(frame).toMatchObject({ kind: 'event', cursor: 'b2Zm' });
  });

  it('reads offset-only frames as heartbeats that move the cursor', () => {
    expect(interpretAuth0Frame({ event: 'offset-only', id: '4Lcu', data: '{"offset":"4Lcu"}' })).toEqual({ kind: 'heartbeat', cursor: '4Lcu' });
    expect(interpretAuth0Frame({ event: 'offset-only', id: undefined, data: '{"offset":"4Lcv"}' })).toEqual({ kind: 'heartbeat', cursor: '4Lcv' });
    expect(interpretAuth0Frame({ event: 'offset-only', id: undefined, data: '{}' })).toEqual({ kind: 'ignored' });
  });

  it('reads error frames with their code, message and offset', () => {
    const data = '{"error":{"code":"connection_timeout","message":"rotating","offset":"b2Zz"}}';
    expect(interpretAuth0Frame({ event: 'error', id: undefined, data })).toEqual({
      kind: 'error', code: 'connection_timeout', message: 'rotating', cursor: 'b2Zz',
    });
  });

  it('takes the frame id as the cursor of an error frame without offset, and keeps an unreadable body as the message', () => {
    expect(interpretAuth0Frame({ event: 'error', id: 'b2Za', data: 'upstream broke' })).toEqual({
      kind: 'error', code: 'unknown', message: 'upstream broke', cursor: 'b2Za',
    });
  });

  it('never takes an empty id: line for a cursor', () => {
    const data = JSON.stringify({ offset: 'b2Zc', event: { id: 'evt_1', type: 'user.created' } });
    expect(interpretAuth0Frame({ event: 'user.created', id: '', data })).toMatchObject({ kind: 'event', cursor: 'b2Zc' });
    expect(interpretAuth0Frame({ event: 'offset-only', id: '', data: '{}' })).toEqual({ kind: 'ignored' });
    expect(interpretAuth0Frame({ event: 'error', id: '', data: 'boom' })).toMatchObject({ kind: 'error', cursor: null });
  });

  it('dead-letters an oversize frame with its start, and still moves past it', () => {
    const frame = interpretAuth0Frame({ event: 'user.updated', id: 'b2Zb', data: '', oversize: { bytes: 9_000_000, preview: '{"offset":"b2Zb",' } });
    expect(frame).toMatchObject({ kind: 'unreadable', type: 'user.updated', raw: '{"offset":"b2Zb",', cursor: 'b2Zb' });
  });
});
