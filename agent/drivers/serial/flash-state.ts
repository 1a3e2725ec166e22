// What each board runs: the sha256 of the image last flashed successfully, kept in a small JSON
// file in the agent's data folder so that an agent restart does not reflash every board. A board
// whose state is unknown (a flash started but did not finish, the board failed mid-job) has no
// entry and is flashed by its next job. Writes go to a temp file renamed over the old one.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const stateSchema = z.object({
  boards: z.record(z.string(), z.object({ sha256: z.string(), flashed_at: z.string() })),
});
type State = z.infer<typeof stateSchema>;

export class FlashState {
  private state: State = { boards: {} };

  /** `file` null: kept in memory only (a driver used without an agent data folder). */
  constructor(private readonly file: string | null, log: (msg: string, extra?: Record<string, unknown>) => void = () => {}) {
    if (file === null) return;
    try {
      const parsed = stateSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (parsed.success) this.state = parsed.data;
      else log('ignored an unreadable serial board state file', { file });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log('could not read the serial board state file', { file, error: (err as Error).message });
    }
  }

  /** sha256 of the image the board runs, or null when unknown. */
  image(board: string): string | null {
    return this.state.boards[board]?.sha256 ?? null;
  }

  flashed(board: string, sha256: string, at: Date = new Date()): void {
    this.state.boards[board] = { sha256, flashed_at: at.toISOString() };
    this.save();
  }

  forget(board: string): void {
    if (!(board in this.state.boards)) return;
    delete this.state.boards[board];
    this.save();
  }

  private save(): void {
    if (this.file === null) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }
}
