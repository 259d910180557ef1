// How a source tells the ingest loop (and the logs, status and metrics) about its connections:
// --until-idle counts only the time the upstream was reachable.

export type ConnectionEvent =
  | { type: 'open'; attempt: number; status: number }
  | { type: 'keepalive' }
  /** `error-frame`: the source ended the connection on an upstream error frame (Auth0). */
  | { type: 'closed'; reason: 'end' | 'idle-timeout' | 'network-error' | 'truncated' | 'error-frame'; error?: Error }
  | { type: 'retrying'; attempt: number; delayMs: number; status?: number; reason: string; error?: Error };
