import { loadConfig } from '../config/config.js';
import { EdgebootError, messageOf } from '../core/errors.js';
import { parseMac } from '../core/mac.js';
import { type Explanation, formatExplanation } from '../observe/explain.js';

/** `edgeboot explain <mac>`: ask the running appliance what it would serve the MAC, why, and what it saw. */
export async function runExplain(v: Record<string, unknown>, configPath: string, positionals: string[]): Promise<number> {
  const raw = positionals[0] ?? (v.mac as string | undefined);
  if (!raw) throw new EdgebootError('E_MAC', 'explain needs a MAC: edgeboot explain <mac>');
  const mac = parseMac(raw);
  let base = v.url as string | undefined;
  if (!base) {
    const config = loadConfig(configPath);
    const host = config.http.listen === '0.0.0.0' || config.http.listen === '::' ? '127.0.0.1' : config.http.listen;
    base = `http://${host}:${config.http.port}`;
  }
  const url = `${base.replace(/\/$/, '')}/api/v1/nodes/${mac.replace(/:/g, '-')}/explain`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new EdgebootError('E_INTERNAL', `the appliance at ${base} did not answer (${messageOf(err)}); is "edgeboot serve" running?`);
  }
  if (!res.ok) throw new EdgebootError('E_INTERNAL', `the appliance at ${base} answered ${res.status}: ${(await res.text()).trim()}`);
  const x = (await res.json()) as Explanation;
  process.stdout.write(v.json ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
  return 0;
}
