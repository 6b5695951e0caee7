import type { EventBus } from '../events.js';
import type { Store } from '../store/store.js';
import { Gallery, type MatchResult, type PersonScore } from './gallery.js';

/**
 * The gallery of one embedder model, kept in step with the store: rebuilt from the templates
 * of ACTIVE people on every 'people.changed' event.
 */
export class LiveGallery {
  readonly gallery: Gallery;
  private unsubscribe: (() => void) | null = null;
  private names = new Map<string, string>();
  rebuilds = 0;

  constructor(private readonly store: Store, private readonly bus: EventBus, readonly modelId: string, dim = 128) {
    this.gallery = new Gallery(dim);
  }

  /** Loads the gallery and starts listening for changes; accelerated searches for big galleries. */
  async start(accelerate = true): Promise<void> {
    this.rebuild();
    if (accelerate) await this.gallery.accelerate();
    this.unsubscribe = this.bus.on('people.changed', () => this.rebuild());
  }

  rebuild(): void {
    const templates = this.store.templates.activeForModel(this.modelId);
    this.gallery.load(templates.map((t) => ({ personId: t.personId, embedding: t.embedding })));
    this.names = new Map(this.store.people.list({ status: 'ACTIVE', limit: 10_000_000 }).map((p) => [p.id, p.name]));
    this.rebuilds++;
  }

  nameOf(personId: string | null): string | null {
    return personId ? (this.names.get(personId) ?? null) : null;
  }

  match(probe: Float32Array, threshold: number, margin: number): Promise<MatchResult> {
    return this.gallery.matchAsync(probe, threshold, margin);
  }

  search(probe: Float32Array, k = 5): Promise<PersonScore[]> {
    return this.gallery.searchAsync(probe, k);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.gallery.release();
  }
}
