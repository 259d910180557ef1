// Serves a bench stream from a child process, as another machine would: the server's CPU time
// and memory are not the ingester's. On two cores the sending still runs beside the ingester; the
// generating is done before the server listens (stream-server-process.ts).
import { fork } from 'node:child_process';
import { once } from 'node:events';

export type BenchStreamKind = 'auth0' | 'sanity';

export interface StreamServer {
  url: string;
  close(): Promise<void>;
}

/** A server that answers every request with the whole generated stream of `events` events. */
export async function startStreamServer(kind: BenchStreamKind, events: number): Promise<StreamServer> {
  const child = fork(new URL('./stream-server-process.js', import.meta.url), [kind, String(events)], { stdio: 'inherit' });
  const listening = once(child, 'message') as Promise<[string]>;
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the bench stream server exited (code ${String(code)}) before listening`);
  });
  exited.catch(() => undefined);
  const [url] = await Promise.race([listening, exited]);
  return {
    url,
    close: async () => {
      if (child.exitCode !== null) return;
      const gone = once(child, 'exit');
      child.kill();
      await gone;
    },
  };
}
