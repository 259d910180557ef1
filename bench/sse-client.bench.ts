// Benchmarks the SSE client end to end (test server on 127.0.0.1 -> undici -> frames) against
// eventsource-parser fed the same bytes in memory, the ceiling no network client can beat.

import { once } from 'node:events';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createParser } from 'eventsource-parser';
import { readSseStream } from '../src/sse/client.js';
import { encodeFrame, startSseTestServer, type ScriptStep } from '../src/simulators/sse-server.js';
import { bestOf, peakRssDuring } from './measure.js';
import type { BenchResult } from './result.js';

const STREAM_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const RUNS = 7;

/** What this module is given when it runs as the server's worker thread. */
interface ServerWorkerData {
  role: 'sse-client-bench-server';
  stream: SharedArrayBuffer;
}

export async function benchSseClient(): Promise<BenchResult> {
  const { result, peakRssMb } = await peakRssDuring(async () => {
    const { stream, frames } = auth0Stream(STREAM_BYTES);
    const bytes = Buffer.from(stream);
    const baselineSeconds = await bestOf(RUNS, () => parseInMemory(bytes, frames));
    // The server gets a thread of its own, as it would be another machine: its CPU time is not the client's.
    const server = new Worker(new URL(import.meta.url), { workerData: { role: 'sse-client-bench-server', stream } satisfies ServerWorkerData });
    try {
      const [url] = (await once(server, 'message')) as [string];
      const clientSeconds = await bestOf(RUNS, () => readFromServer(url, frames));
      return { baseline: bytes.length / 1e6 / baselineSeconds, client: bytes.length / 1e6 / clientSeconds };
    } finally {
      await server.terminate();
    }
  });
  return {
    name: 'SSE client (127.0.0.1, Auth0-like frames)',
    unit: 'MB/s',
    value: result.client,
    baselineName: 'eventsource-parser fed the same bytes in memory',
    baselineValue: result.baseline,
    target: 0.5,
    peakRssMb,
  };
}

/** Realistic `user.updated` frames of 500 B to 1 KB, the shape Auth0's Events API sends. */
function auth0Stream(totalBytes: number): { stream: SharedArrayBuffer; frames: number } {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < totalBytes; i++) {
    const offset = Buffer.from(`stream-offset-${i}`).toString('base64');
    const time = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    const event = {
      offset,
      event: {
        specversion: '1.0',
        type: 'user.updated',
        id: `evt_${i.toString(36).padStart(16, '0')}`,
        time,
        source: 'urn:auth0:acme.us.auth0.com',
        a0tenant: 'acme',
        a0stream: 'est_4LcuTXmVDASuNRQt',
        data: {
          object: {
            user_id: `auth0|${(i * 7919).toString(16).padStart(24, '0')}`,
            email: `user${i}@example.com`,
            email_verified: i % 3 === 0,
            name: `User Number ${i}`,
            created_at: '2025-06-01T12:00:00.000Z',
            updated_at: time,
            identities: [{ provider: 'auth0', user_id: `${i}`, connection: 'Username-Password-Authentication', isSocial: false }],
            app_metadata: { plan: ['free', 'pro', 'enterprise'][i % 3], notes: 'n'.repeat((i * 37) % 420) },
            user_metadata: { locale: 'en-US', theme: i % 2 === 0 ? 'dark' : 'light' },
          },
        },
      },
    };
    const frame = encodeFrame({ event: 'user.updated', id: offset, data: JSON.stringify(event) });
    parts.push(frame);
    length += frame.length;
  }
  // Shared with the server thread instead of copied to it.
  const stream = new SharedArrayBuffer(length);
  Buffer.from(stream).write(parts.join(''));
  return { stream, frames: parts.length };
}

function parseInMemory(bytes: Buffer, expectedFrames: number): void {
  let frames = 0;
  const parser = createParser({ onEvent: () => frames++ });
  const decoder = new TextDecoder();
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    parser.feed(decoder.decode(bytes.subarray(offset, offset + CHUNK_BYTES), { stream: true }));
  }
  checkFrameCount(frames, expectedFrames);
}

async function readFromServer(url: string, expectedFrames: number): Promise<void> {
  let frames = 0;
  for await (const frame of readSseStream({ connect: () => ({ url }) })) {
    if (frame.oversize) throw new Error('bench: unexpected oversize frame');
    if (++frames === expectedFrames) break;
  }
  checkFrameCount(frames, expectedFrames);
}

function checkFrameCount(frames: number, expected: number): void {
  if (frames !== expected) throw new Error(`bench: parsed ${frames} frames, expected ${expected}`);
}

/** The server thread: serves the shared stream in 64 KB writes to every request. */
async function serveStream({ stream }: ServerWorkerData): Promise<void> {
  const bytes = Buffer.from(stream);
  function* slices(): Generator<ScriptStep> {
    for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) yield { raw: bytes.subarray(offset, offset + CHUNK_BYTES) };
  }
  const server = await startSseTestServer(() => ({ steps: slices() }));
  parentPort?.postMessage(server.url);
}

if (!isMainThread && (workerData as Partial<ServerWorkerData> | null)?.role === 'sse-client-bench-server') {
  await serveStream(workerData as ServerWorkerData);
}
