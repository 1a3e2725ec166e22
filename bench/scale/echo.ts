// The same-run baseline of bench/scale.ts: a bare WebSocket echo server and a bare HTTP server in
// their own process, so a round trip through them costs what the machine and Node charge, nothing more.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true, bytes: Buffer.concat(chunks).length })); });
});
const wss = new WebSocketServer({ server, path: '/echo' });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
server.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', port: (server.address() as AddressInfo).port }));
process.on('message', (m: { type: string }) => { if (m.type === 'exit') process.exit(0); });
