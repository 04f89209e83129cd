// How PostgreSQL failures read to an operator: a database that cannot be reached is a sentence and a 503
// (retry later), a constraint the data broke is a sentence naming the value; neither ever shows the
// connection string (it may hold a password).

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);
const CONNECTION_TEXT = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Connection ended|the database system is (starting up|shutting down)/i;

/** A short reason when `err` means the database cannot be reached (or is restarting), else undefined. */
export function connectionProblem(err: unknown): string | undefined {
  const e = err as { code?: string; message?: string; cause?: unknown } | undefined;
  if (!e) return undefined;
  // Already turned into a sentence by the store: the reason is its cause.
  if (e.cause !== undefined && e.cause !== err) {
    const inner = connectionProblem(e.cause);
    if (inner) return inner;
  }
  const code = typeof e.code === 'string' ? e.code : '';
  const text = String(e.message ?? '').split('\n')[0]!;
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || CONNECTION_TEXT.test(text)) return text.slice(0, 160) || code;
  return undefined;
}

/** A sentence for a unique-constraint violation (a MAC or UUID another node holds), else undefined. */
export function sqlProblem(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string; detail?: string } | undefined;
  if (e?.code !== '23505') return undefined;
  const value = /=\((.*)\)/.exec(e.detail ?? '')?.[1] ?? 'a value';
  if (e.constraint === 'node_macs_pkey') return `MAC ${value} already belongs to another node`;
  if (e.constraint === 'nodes_uuid') return `UUID ${value} already belongs to another node`;
  return `${value} is already taken (${e.constraint ?? 'unique constraint'})`;
}

/** Where a connection string points, for logs: host (or socket folder), port and database; never user or password. */
export function describeTarget(url: string): string {
  const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?]*)(?:\/([^?]*))?(?:\?(.*))?$/.exec(url);
  if (!m) return '(unparsable database URL)';
  const socket = new URLSearchParams(m[3] ?? '').get('host');
  return `${socket ?? (m[1] || 'localhost')}/${m[2] || '(default)'}`;
}
