// The server under test of bench/scale.ts, in its own process: the real startServer on a fresh
// data directory (or another build's, with --server DIR), answering the orchestrator's questions
// about its own CPU time and memory over IPC.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dataDir, serverDist] = process.argv.slice(2);
if (!dataDir || !process.send) throw new Error('usage: server.js DATA_DIR [DIST_DIR] (started by bench/scale.js with IPC)');
const mainUrl = serverDist ? pathToFileURL(path.resolve(serverDist, 'server/main.js')).href : new URL('../../server/main.js', import.meta.url).href;
const { startServer } = (await import(mainUrl)) as typeof import('../../server/main.js');
// Builds from before this timing existed have no recentResultTimes: the orchestrator then reports none.
const sessionModule = (await import(mainUrl.replace(/main\.js$/, 'agents/session.js'))) as Partial<typeof import('../../server/agents/session.js')>;
// The server logs as it would in production (one JSON line per event) into a file, not a pipe.
const logFile = (await import('node:fs')).createWriteStream(path.join(dataDir, 'server.log'));
const server = await startServer({
  dataDir, port: 0, host: '127.0.0.1',
  log: (msg, extra) => { logFile.write(`${JSON.stringify({ t: Date.now(), component: 'server', msg, ...extra })}\n`); },
});
// How long the event loop was blocked (ms), between two stats requests.
const { monitorEventLoopDelay } = await import('node:perf_hooks');
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
process.send({ type: 'ready', url: server.url, token: server.firstAdminToken });
process.on('message', (m: { type: string; id?: number }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', id: m.id, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, results: Array.from(sessionModule.recentResultTimes?.(true) ?? []),
    loopMaxMs: loop.max / 1e6, loopP99Ms: loop.percentile(99) / 1e6 });
    loop.reset();
  if (m.type === 'stop') void server.close().then(() => process.exit(0)); // exit, not a kill: a --cpu-prof profile is written
});
