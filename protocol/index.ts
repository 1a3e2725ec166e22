// Wire types and validation shared by server, agent, CLI and dashboard.
export * from './domain.js';
export * from './errors.js';
export * from './api.js';
export * from './agent-messages.js';
