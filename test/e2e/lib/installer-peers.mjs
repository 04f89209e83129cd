// The installer's other peers in an e2e namespace: a UDP syslog listener (d-i's `log_host`/`log_port`)
// and a stand-in archive mirror that logs every request and holds nothing, so the test can see which
// mirror d-i asked and stop there. Usage: node installer-peers.mjs <ip> <syslog-port> <mirror-port>
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';

const [ip, syslogPort, mirrorPort] = process.argv.slice(2);
const out = (line) => process.stdout.write(`${line}\n`);

const udp = createSocket('udp4');
udp.on('message', (msg) => {
  // One datagram is one syslog line; keep it on one line whatever it holds.
  out(`SYSLOG ${msg.toString('utf8').replace(/[\r\n]+/g, ' ').trimEnd()}`);
});
udp.bind(Number(syslogPort), ip, () => out(`peers: syslog on udp ${ip}:${syslogPort}`));

const http = createServer((req, res) => {
  out(`MIRROR ${req.method} ${req.url}`);
  res.writeHead(404, { 'content-type': 'text/plain' }).end('edgeboot e2e mirror holds nothing\n');
});
http.listen(Number(mirrorPort), ip, () => out(`peers: mirror on http://${ip}:${mirrorPort}/`));
