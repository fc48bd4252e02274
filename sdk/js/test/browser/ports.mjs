// Ports for the peers the browser tests run (baresip, sipp), chosen as
// test/harness/ports.go chooses them: from [20100, 20990), outside the
// kernel's ephemeral range (32768 up), so no outgoing connection of another
// process can take the port between the test releasing it and the peer
// binding it (a CI run lost baresip's SIP listener to that); only even
// ports, because baresip also listens for SIP over TLS on port+1; a random
// start per test file, and each port is bound before it is handed out.
import dgram from 'node:dgram';
import net from 'node:net';

const LOW = 20100;
const HIGH = 20990;
const SLOTS = (HIGH - LOW) / 2;
let next = Math.floor(Math.random() * SLOTS);

/** Whether port can be bound on 127.0.0.1 for 'udp' or 'tcp'. */
function bindable(proto, port) {
  return new Promise((resolve) => {
    const s = proto === 'udp' ? dgram.createSocket('udp4') : net.createServer();
    s.once('error', () => {
      if (proto === 'udp') s.close(); // a dgram socket stays open after a failed bind
      resolve(false);
    });
    const done = () => s.close(() => resolve(true));
    if (proto === 'udp') s.bind(port, '127.0.0.1', done);
    else s.listen(port, '127.0.0.1', done);
  });
}

/**
 * A port on 127.0.0.1 free for network: 'udp', 'tcp', or 'sip' (UDP and TCP
 * on the port and TCP on port+1, as a baresip SIP listener takes them).
 */
export async function peerPort(network) {
  const checks = { udp: [['udp', 0]], tcp: [['tcp', 0]], sip: [['udp', 0], ['tcp', 0], ['tcp', 1]] }[network];
  if (!checks) throw new Error(`peerPort: unknown network ${network}`);
  for (let i = 0; i < SLOTS; i++) {
    const port = LOW + 2 * (next++ % SLOTS);
    let free = true;
    for (const [proto, off] of checks) {
      if (!(await bindable(proto, port + off))) { free = false; break; }
    }
    if (free) return port;
  }
  throw new Error(`peerPort: no port in [${LOW}, ${HIGH}) free for ${network}`);
}
