import { describe, expect, it } from 'vitest';
import { type LineSink, TurnBatch } from '../../../src/core/turn-batch.js';

function recordingSink() {
  const writes: string[] = [];
  const calls: string[] = [];
  const sink: LineSink = {
    write(data) {
      writes.push(data);
      return true;
    },
    flush(cb) {
      calls.push('flush');
      cb?.();
    },
    flushSync() {
      calls.push('flushSync');
    },
    end() {
      calls.push('end');
    },
  };
  return { sink, writes, calls };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBatch', () => {
  it('hands the lines of one event-loop turn to the sink as one write, in order', async () => {
    const { sink, writes } = recordingSink();
    const batch = new TurnBatch(sink);
    for (let i = 0; i < 50; i++) batch.write(`line ${i}\n`);
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n').filter(Boolean)).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
    batch.write('later\n');
    await nextTurn();
    expect(writes).toEqual([writes[0], 'later\n']);
  });

  it('hands waiting lines over before flush, flushSync and end', () => {
    for (const op of ['flush', 'flushSync', 'end'] as const) {
      const { sink, writes, calls } = recordingSink();
      const batch = new TurnBatch(sink);
      batch.write('a\n');
      batch.write('b\n');
      batch[op]();
      expect(writes).toEqual(['a\nb\n']);
      expect(calls).toEqual([op]);
    }
  });

  it('writes nothing when nothing was logged', async () => {
    const { sink, writes } = recordingSink();
    const batch = new TurnBatch(sink);
    batch.flush();
    await nextTurn();
    expect(writes).toEqual([]);
  });
});

describe('the stdout logger (TurnBatch over sonic-boom)', () => {
  it('writes every line logged in the last turn when the process exits without a flush', async () => {
    // The built logger (npm test builds first), in a process that logs and exits in the same turn.
    const { execFileSync } = await import('node:child_process');
    const script = [
      "import { createLogger } from './dist/src/core/log.js';",
      "const log = createLogger('info');",
      "for (let i = 0; i < 200; i++) log.info({ i }, 'line');",
      'process.exit(0);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const lines = out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    expect(lines).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
