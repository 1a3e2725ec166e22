// Simulated agents for bench/scale.ts, many per process: each speaks the real agent protocol
// over its own WebSocket (hello with one device, heartbeats at the server's interval, job.started
// and job.result for every assignment) and reports to the orchestrator when each assignment
// arrived and when each result was acknowledged.
import { WebSocket } from 'ws';
import type { ServerMessage } from '../../protocol/agent-messages.js';

interface Setup { url: string; agents: { token: string; serial: string }[]; samples: number; connectConcurrency: number }

const now = (): number => performance.timeOrigin + performance.now();
let samples = 1;
let assigned: [string, string, number][] = []; // job id, run id, arrival time
let acked = 0;
let ready = 0;

function flush(): void {
  if (assigned.length > 0 || acked > 0) process.send!({ type: 'progress', assigned, acked });
  assigned = [];
  acked = 0;
}
setInterval(flush, 20).unref();

function connect(url: string, token: string, serial: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/agent`, { headers: { authorization: `Bearer ${token}` } });
    const running = new Map<string, number>();
    let beat: NodeJS.Timeout | null = null;
    ws.on('open', () => {
      ws.send(JSON.stringify({
        type: 'hello', protocol: 1, agent_version: 'scale-sim', hostname: `host-${serial}`, running: [],
        devices: [{ serial, name: serial, driver: 'linux', labels: { bench: 'scale' }, runtimes: ['onnxruntime'], online: true }],
      }));
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as ServerMessage;
      if (msg.type === 'welcome') {
        ready++;
        // As the real agent does: beat at the idle interval while holding nothing, at the busy one while
        // holding a job; agents started together do not beat together.
        const busy = msg.heartbeat_ms;
        const idle = msg.idle_heartbeat_ms ?? busy;
        const next = (): void => {
          beat = setTimeout(() => {
            ws.send(JSON.stringify({ type: 'heartbeat', running: [...running].map(([job_id, attempt]) => ({ job_id, attempt })) }));
            next();
          }, running.size > 0 ? busy : idle);
        };
        beat = setTimeout(next, Math.random() * idle);
        resolve();
      } else if (msg.type === 'job.assign') {
        const { job_id, attempt, run_id } = msg.job;
        assigned.push([job_id, run_id, now()]);
        running.set(job_id, attempt);
        ws.send(JSON.stringify({ type: 'job.started', job_id, attempt }));
        const values = Array.from({ length: samples }, () => 10 + Math.random());
        ws.send(JSON.stringify({ type: 'job.result', job_id, attempt, measurements: [{ metric: 'latency_ms', unit: 'ms', samples: values }], environment: { sim: true } }));
      } else if (msg.type === 'ack' && msg.ref === 'job.result') {
        running.delete(msg.job_id);
        acked++;
      } else if (msg.type === 'error') {
        process.send!({ type: 'warn', message: `${serial}: ${msg.code}: ${msg.message}` });
      }
    });
    ws.on('error', reject);
    ws.on('close', () => { if (beat) clearTimeout(beat); });
  });
}

process.on('message', (m: { type: string } & Partial<Setup>) => {
  if (m.type === 'setup') {
    const setup = m as Setup;
    samples = setup.samples;
    void (async () => {
      const queue = [...setup.agents];
      const workers = Array.from({ length: setup.connectConcurrency }, async () => {
        for (let a = queue.shift(); a; a = queue.shift()) await connect(setup.url, a.token, a.serial);
      });
      await Promise.all(workers);
      process.send!({ type: 'ready', count: ready });
    })().catch((err: Error) => process.send!({ type: 'fatal', message: err.message }));
  }
  if (m.type === 'samples') samples = (m as { samples: number }).samples;
  if (m.type === 'exit') process.exit(0);
});
