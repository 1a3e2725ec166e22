// The contract between the router (app.ts) and each page: a page owns one root element, loads and
// re-renders itself in refresh() (throwing ApiError on failure; the router shows it), says which
// live events concern it, and releases charts and pending requests in dispose().
import type { LiveEvent } from '../protocol/api.js';

export interface Page {
  readonly el: HTMLElement;
  /** Fetches and renders; `signal` aborts when the page is left. */
  refresh(signal: AbortSignal): Promise<void>;
  wants(event: LiveEvent): boolean;
  dispose(): void;
}
