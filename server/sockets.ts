// WebSocket endpoints on the HTTP server's port: /ws/agent (agent tokens, bearer header) and
// /ws/live (dashboards; read tokens, `?token=` because browsers cannot set headers).
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LiveEvent } from '../protocol/api.js';
import { MAX_FRAME_BYTES } from '../protocol/agent-messages.js';
import { allows, authenticate } from './auth/tokens.js';
import type { ServerContext } from './context.js';
import { markAgentOffline } from './farm/registry.js';
import { bearerToken } from './http/middleware.js';
import { AgentSession, type Log } from './agents/session.js';
import { stmt } from './db/statements.js';


/** Agent messages applied per transaction (a batch holds the event loop for a few milliseconds at most). */
const MAX_BATCH = 64;

export class SocketHub {
  readonly sessions = new Map<string, AgentSession>();
  private readonly inbox: { agentId: string; session: AgentSession; raw: string }[] = [];
  private drainScheduled = false;
  private readonly live = new Set<WebSocket>();
  /** The token each socket was opened with, so that revoking it closes the socket at once. */
  private readonly liveToken = new Map<WebSocket, string>();
  private readonly agentToken = new Map<string, string>();
  // Each agent message is handled in its own turn of the event loop (allowSynchronousEvents off):
  // the parts of a large result arrive by the dozen in one socket read, and handled back to back
  // they held everyone else (HTTP included) for 100–170 ms.
  private readonly agentWss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, allowSynchronousEvents: false });
  private readonly liveWss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  /** Set when the server shuts down: late socket events must not touch the closed database. */
  private closed = false;

  constructor(private readonly ctx: ServerContext, private readonly log: Log) {}

  attach(server: http.Server): void {
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  private reject(socket: Duplex, status: number, code: string, message: string): void {
    const body = JSON.stringify({ error: { code, message } });
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) return void socket.destroy();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws/agent' && url.pathname !== '/ws/live') return this.reject(socket, 404, 'not_found', `no socket at ${url.pathname}`);
    // Agents send their token in the Authorization header only (proxies log URLs); browsers cannot
    // set headers, so dashboards use ?token= on /ws/live.
    if (url.pathname === '/ws/agent' && url.searchParams.has('token')) {
      return this.reject(socket, 401, 'unauthorized', 'send the agent token in the Authorization header, not in the URL');
    }
    const secret = bearerToken(req.headers.authorization) ?? (url.pathname === '/ws/live' ? url.searchParams.get('token') : null);
    if (!secret) return this.reject(socket, 401, 'unauthorized', 'missing token');
    const principal = authenticate(this.ctx.db, secret, this.ctx.now());
    if (!principal) return this.reject(socket, 401, 'unauthorized', 'unknown or revoked token');
    if (url.pathname === '/ws/live') {
      if (!allows(principal.role, 'read')) return this.reject(socket, 403, 'forbidden', 'live updates need a read token');
      this.liveWss.handleUpgrade(req, socket, head, (ws) => {
        this.live.add(ws);
        this.liveToken.set(ws, principal.tokenId);
        const forget = () => { this.live.delete(ws); this.liveToken.delete(ws); };
        ws.on('close', forget);
        ws.on('error', forget);
      });
      return;
    }
    if (principal.role !== 'agent' || !principal.agentId) return this.reject(socket, 403, 'forbidden', 'the agent socket needs an agent token');
    const agentId = principal.agentId;
    this.agentWss.handleUpgrade(req, socket, head, (ws) => {
      this.agentToken.set(agentId, principal.tokenId);
      this.acceptAgent(agentId, ws);
    });
  }

  private acceptAgent(agentId: string, ws: WebSocket): void {
    const previous = this.sessions.get(agentId);
    if (previous) previous.close(4409, 'replaced by a newer connection');
    const session = new AgentSession(agentId, ws, this.ctx, this.log);
    this.sessions.set(agentId, session);
    ws.on('message', (data) => {
      // A session that was replaced or revoked is heard no more (its close handshake may still be running).
      if (this.closed || this.sessions.get(agentId) !== session) return;
      this.inbox.push({ agentId, session, raw: data.toString() });
      if (!this.drainScheduled) {
        this.drainScheduled = true;
        setImmediate(() => this.drain());
      }
    });
    ws.on('close', () => {
      if (this.closed || this.sessions.get(agentId) !== session) return;
      this.sessions.delete(agentId);
      markAgentOffline(this.ctx.db, agentId, this.ctx.now());
      this.log('agent offline', { agent: agentId });
      this.ctx.publish({ type: 'agent.changed', agent_id: agentId });
      for (const d of stmt(this.ctx.db, 'SELECT id FROM devices WHERE agent_id = ?').all(agentId) as { id: string }[]) {
        this.ctx.publish({ type: 'device.changed', device_id: d.id });
      }
    });
    ws.on('error', (err) => this.log('agent socket error', { agent: agentId, error: err.message }));
  }

  /**
   * Agents' messages are stored in batches: every message that arrived since the last batch (at most
   * MAX_BATCH) is applied in one transaction — each in its own savepoint, so one that fails changes
   * nothing — and the replies (acknowledgements above all) are sent once the batch is committed.
   * A farm's results cost one commit per batch instead of three per job.
   */
  private drain(): void {
    this.drainScheduled = false;
    const batch = this.inbox.splice(0, MAX_BATCH);
    if (this.inbox.length > 0) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
    if (this.closed) return;
    const { db } = this.ctx;
    const touched = new Set<AgentSession>();
    try {
      db.transaction(() => {
        for (const item of batch) {
          if (this.sessions.get(item.agentId) !== item.session) continue;
          item.session.hold();
          touched.add(item.session);
          try {
            db.transaction(() => item.session.handleRaw(item.raw))();
          } catch (err) {
            this.log('agent message failed', { agent: item.agentId, error: String((err as Error).stack ?? err) });
            item.session.send({ type: 'error', code: 'internal', message: 'the server failed to process the message' });
          }
        }
      }).immediate();
    } catch (err) {
      // The batch could not be committed: nothing of it is stored and nothing acknowledged. The
      // agents reconnect and send again what their outboxes hold.
      this.log('agent batch failed', { messages: batch.length, error: String((err as Error).stack ?? err) });
      for (const s of touched) { s.discard(); s.close(1011, 'the server could not store your messages; reconnect and send them again'); }
      return;
    }
    for (const s of touched) s.release();
  }

  publish(event: LiveEvent): void {
    if (this.live.size === 0) return;
    const text = JSON.stringify(event);
    for (const ws of this.live) if (ws.readyState === ws.OPEN) ws.send(text);
  }

  /** Closes the sockets opened with a revoked token, or of a revoked agent: revocation takes effect at once. */
  revoke(what: { tokenId?: string; agentId?: string }): void {
    for (const [ws, tokenId] of this.liveToken) if (tokenId === what.tokenId) ws.close(4401, 'token revoked');
    for (const [agentId, session] of this.sessions) {
      if (agentId === what.agentId || (what.tokenId !== undefined && this.agentToken.get(agentId) === what.tokenId)) {
        this.log('agent socket closed: revoked', { agent: agentId });
        // Unlisted at once, so the dispatcher assigns it nothing more while the close handshake runs.
        this.sessions.delete(agentId);
        session.close(4403, 'token revoked');
        markAgentOffline(this.ctx.db, agentId, this.ctx.now());
        this.ctx.publish({ type: 'agent.changed', agent_id: agentId });
      }
    }
  }

  closeAgent(agentId: string, code: number, reason: string): void {
    this.sessions.get(agentId)?.close(code, reason);
  }

  closeAll(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.close(1001, 'server shutting down');
    for (const ws of this.live) ws.close(1001, 'server shutting down');
  }
}
