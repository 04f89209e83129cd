// Minimal clients for the nspawn boot check, where the trixie root has node but no curl or tftp:
//   node probe.mjs http URL [BEARER]   -> "<status> <first line of the body>"
//   node probe.mjs tftp HOST FILE      -> "<bytes received>" (RFC 1350 read, octet mode, lock-step)
import { createSocket } from 'node:dgram';
import { get } from 'node:http';

const [mode, a, b] = process.argv.slice(2);
setTimeout(() => {
  console.log('timeout');
  process.exit(1);
}, 15_000).unref();

if (mode === 'http') {
  const headers = b ? { authorization: `Bearer ${b}` } : {};
  get(a, { headers }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => console.log(res.statusCode, body.split('\n')[0]));
  }).on('error', (e) => {
    console.log('error', e.message);
    process.exitCode = 1;
  });
} else if (mode === 'tftp') {
  const s = createSocket('udp4');
  let bytes = 0;
  s.on('message', (m, peer) => {
    const op = m.readUInt16BE(0);
    if (op !== 3) {
      console.log(`error opcode ${op}: ${m.subarray(4).toString('latin1')}`);
      process.exit(1);
    }
    const block = m.readUInt16BE(2);
    bytes += m.length - 4;
    s.send(Buffer.from([0, 4, block >> 8, block & 255]), peer.port, peer.address);
    if (m.length - 4 < 512) {
      console.log(bytes);
      s.close();
    }
  });
  s.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${b}\0octet\0`)]), 69, a);
} else {
  console.log('usage: probe.mjs http URL [BEARER] | tftp HOST FILE');
  process.exit(2);
}
