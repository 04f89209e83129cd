// A light boot-storm client for the two-appliance test: N simulated machines each fetch one file over TFTP
// (lock-step, blksize 1468) and their iPXE script over HTTP from one (floating) address. A transfer that
// stalls or fails is started again after a short pause and counted as a retry, as iPXE's loop would.
// Each machine uses its own source address (as real machines do: TFTP servers cap transfers per client address).
// Usage: node ha-storm-client.mjs <server> <http-port> <tftp-file> <machines> <concurrency> <mac-prefix> <addr,addr,…>
// Prints one JSON line: { done, failed, retries, maxRetries, ms, firstFailAt, lastRetryOkAt, errors (message → count) }.
import dgram from 'node:dgram';
import http from 'node:http';

const [server, httpPort, file, machines, concurrency, macPrefix, addrs] = process.argv.slice(2);
const sources = addrs.split(',');
const N = Number(machines);
const started = Date.now();
let retries = 0;
let maxRetries = 0;
let firstFailAt;
let lastRetryOkAt;
const errors = {};

function tftpGet(name, source) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.bind({ address: source });
    let expect = 1;
    let bytes = 0;
    let peer;
    let last;
    let timer;
    const done = (err) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(bytes);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(new Error('tftp timeout')), 2000);
    };
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0blksize\x001468\0`)]);
    sock.on('message', (msg, rinfo) => {
      const op = msg.readUInt16BE(0);
      peer ??= rinfo.port;
      if (op === 5) return done(new Error(`tftp error ${msg.subarray(4, -1).toString()}`));
      if (op === 6) {
        last = Buffer.from([0, 4, 0, 0]);
        sock.send(last, peer, server);
        return arm();
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      const ack = Buffer.from([0, 4, msg[2], msg[3]]);
      if (block === (expect & 0xffff)) {
        bytes += msg.length - 4;
        expect++;
        sock.send(ack, peer, server);
        if (msg.length - 4 < 1468) return done();
      } else sock.send(ack, peer, server);
      arm();
    });
    sock.send(rrq, 69, server);
    arm();
  });
}

function httpGet(path, source) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: server, port: Number(httpPort), path, localAddress: source, timeout: 3000, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`http ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('http timeout')));
    req.on('error', reject);
  });
}

async function machine(i) {
  const mac = `${macPrefix}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const source = sources[i % sources.length];
      await tftpGet(file, source);
      const script = await httpGet(`/ipxe/node/${mac.replace(/:/g, '-')}`, source);
      if (!script.startsWith('#!ipxe')) throw new Error('not an iPXE script');
      if (attempt > 0) lastRetryOkAt = Date.now() - started;
      maxRetries = Math.max(maxRetries, attempt);
      return true;
    } catch (err) {
      errors[err.message] = (errors[err.message] ?? 0) + 1;
      firstFailAt ??= Date.now() - started;
      retries++;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return false;
}

let next = 0;
let done = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (next < N) {
      const i = next++;
      if (await machine(i)) done++;
      else failed++;
    }
  }),
);
console.log(JSON.stringify({ done, failed, retries, maxRetries, ms: Date.now() - started, firstFailAt: firstFailAt ?? null, lastRetryOkAt: lastRetryOkAt ?? null, errors }));
