// One agent for bench/large-result.ts: answers every job with a result of the requested number of
// samples, sent as the real agent sends it (protocol/agent-messages.ts resultFrames), and reports
// how long the server took from the first frame to the acknowledgement.
import { WebSocket } from 'ws';
import { resultFrames, type ServerMessage } from '../../protocol/agent-messages.js';

const [url, token, samplesArg, framesArg] = process.argv.slice(2);
if (!url || !token || !samplesArg || !process.send) throw new Error('usage: big-agent.js URL TOKEN SAMPLES (started by bench/large-result.js)');
const samples = Number(samplesArg);
const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/agent`, { headers: { authorization: `Bearer ${token}` } });
const now = (): number => performance.timeOrigin + performance.now();
let sentAt = 0;
let bytes = 0;
ws.on('open', () => ws.send(JSON.stringify({
  type: 'hello', protocol: 1, agent_version: 'bench', hostname: 'big', running: [],
  devices: [{ serial: 'big-1', name: 'big-1', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }],
})));
ws.on('message', (data) => {
  const msg = JSON.parse(data.toString()) as ServerMessage;
  if (msg.type === 'welcome') process.send!({ type: 'ready' });
  else if (msg.type === 'job.assign') {
    const { job_id, attempt } = msg.job;
    ws.send(JSON.stringify({ type: 'job.started', job_id, attempt }));
    const values = Array.from({ length: samples }, () => 10 + Math.random());
    const result = { type: 'job.result' as const, job_id, attempt, measurements: [{ metric: 'latency_ms', unit: 'ms', samples: values }], environment: {} };
    // 'single': one frame, as agents did before results came in parts (for a build from before them).
    const frames = framesArg === 'single' ? [JSON.stringify(result)] : resultFrames(result);
    bytes = frames.reduce((n, f) => n + Buffer.byteLength(f), 0);
    sentAt = now();
    for (const f of frames) ws.send(f);
  } else if (msg.type === 'ack' && msg.ref === 'job.result') {
    process.send!({ type: 'acked', ms: now() - sentAt, bytes, outcome: msg.outcome });
  } else if (msg.type === 'error') process.send!({ type: 'fatal', message: `${msg.code}: ${msg.message}` });
});
process.on('message', (m: { type: string }) => { if (m.type === 'exit') process.exit(0); });
