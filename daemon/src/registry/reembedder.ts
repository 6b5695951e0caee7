import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { EnrollError } from '../vision/enrollError.js';
import type { PeopleRegistry } from './peopleRegistry.js';

/** Embeds stored chips with the running embedder, off the main thread (the enrollment worker, admin/enrollClient.ts). */
export type EmbedChips = (chips: Uint8Array[]) => Promise<{ modelId: string; embeddings: Float32Array[] }>;

export interface ReembedProgress {
  /** The embedder the run is for (null: none active). */
  model: string | null;
  state: 'idle' | 'running' | 'done';
  /** People with chips and no template of `model` when the run started... */
  total: number;
  /** ...given templates so far... */
  done: number;
  /** ...and the ones that could not be (a chip that does not embed, a face now too close to someone else). */
  failed: number;
}

/**
 * Switching the embedder must not strand enrolled people: when the active model has no template
 * of a person who has enrollment chips (registry/chipsTable.ts), their chips are embedded again by
 * the new model and the templates added through the registry, one person at a time, yielding to
 * the event loop between people (the embedding itself runs in the enrollment worker). Runs when
 * the unit starts and again after a reload of the registry (people changed by another process, or
 * the active model changed). People without chips stay "re-enrollment needed". The progress is
 * this service's /health entry.
 */
export class Reembedder extends BaseService {
  private progress: ReembedProgress = { model: null, state: 'idle', total: 0, done: 0, failed: 0 };
  private running: Promise<void> | null = null;
  private stopping = false;
  /** People that failed under a model: not tried again in later runs for it. */
  private readonly failedFor = new Map<string, Set<string>>();

  constructor(
    private readonly registry: PeopleRegistry,
    private readonly embed: EmbedChips,
    bus: EventBus,
    private readonly log: Logger,
    /** access.threshold as it stands: a re-embedded face this similar to someone else is refused (as at enrollment). */
    private readonly duplicateThreshold: () => number,
    /** Frees what `embed` holds (the worker) when the service stops. */
    private readonly release: () => Promise<void> = async () => {},
  ) {
    super('reembed', bus);
  }

  protected onStart(): void {
    this.stopping = false;
    this.listen('people.changed', (e) => {
      // another process changed people (e.g. `blinkd enroll` run with another embedder), or the model changed
      if (e.action === 'reload') this.kick();
    });
    this.kick();
  }

  protected override async onStop(): Promise<void> {
    this.stopping = true;
    await this.running;
    await this.release();
  }

  health(): Record<string, unknown> {
    return { ...this.progress };
  }

  /** Starts a run unless one is going (a finished run for another model is followed by a new one). */
  kick(): void {
    if (this.running) return;
    this.running = this.run()
      .catch((err: unknown) => this.log.warn({ err }, 're-embedding stopped'))
      .finally(() => {
        this.running = null;
        if (!this.stopping && this.registry.activeModel()?.id !== this.progress.model) this.kick();
      });
  }

  /** Resolves when the current run (if any) has finished. */
  async idle(): Promise<ReembedProgress> {
    while (this.running) await this.running;
    return { ...this.progress };
  }

  private async run(): Promise<void> {
    const model = this.registry.activeModel();
    if (!model) {
      this.progress = { model: null, state: 'idle', total: 0, done: 0, failed: 0 };
      return;
    }
    const failed = this.failedFor.get(model.id) ?? new Set<string>();
    this.failedFor.set(model.id, failed);
    const people = this.registry.awaitingReembedding().filter((id) => !failed.has(id));
    // nothing new for the same model: the last run's numbers stay on /health
    if (!people.length && this.progress.model === model.id && this.progress.state === 'done') return;
    this.progress = { model: model.id, state: people.length ? 'running' : 'done', total: people.length, done: 0, failed: 0 };
    if (!people.length) return;
    this.log.info({ model: model.id, people: people.length }, 're-embedding enrollment chips for the new embedder');
    for (const id of people) {
      if (this.stopping || this.registry.activeModel()?.id !== model.id) return;
      await new Promise<void>((r) => setImmediate(r));
      const row = this.registry.row(id);
      if (!row || !row.needsReenrollment) {
        this.progress.total--; // removed, or enrolled again, since the run started
        continue;
      }
      const chips = this.registry.chipsOf(id);
      try {
        if (chips.length === 0) throw new Error('no chips left');
        const r = await this.embed(chips.map((c) => c.png));
        if (r.modelId !== model.id) throw new Error(`the enrollment worker runs ${r.modelId}, the door ${model.id}`);
        if (!this.registry.get(id)) {
          this.progress.total--; // removed meanwhile
          continue;
        }
        this.registry.enroll({
          person: { id },
          faces: r.embeddings.map((embedding, i) => ({ embedding, quality: chips[i]!.quality, name: `chip ${i + 1}` })),
          modelId: r.modelId,
          source: 'reembed',
          duplicateThreshold: this.duplicateThreshold(),
          actor: 'system:reembed',
        });
        this.progress.done++;
      } catch (err) {
        if (err instanceof EnrollError && err.kind === 'not_found') {
          this.progress.total--;
          continue;
        }
        failed.add(id);
        this.progress.failed++;
        this.log.warn({ person: id, err: (err as Error).message }, 're-embedding a person failed: re-enrollment needed');
      }
    }
    this.progress.state = 'done';
    this.log.info({ model: model.id, done: this.progress.done, failed: this.progress.failed }, 're-embedding finished');
  }
}
