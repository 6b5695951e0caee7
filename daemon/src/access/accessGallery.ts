import type { EventBus } from '../events.js';
import { Gallery, type MatchResult } from '../gallery/gallery.js';
import type { Store } from '../store/store.js';
import type { FaceMatcher } from './ports.js';

/**
 * The door's gallery: the templates of every enrolled person for the running embedder,
 * ACTIVE and DEACTIVATED alike, rebuilt on 'people.changed'. Deactivated people stay
 * searchable on purpose: identity is identity, so their face is recognised and then denied
 * with the reason `deactivated` (on record), instead of being reported as a stranger, and
 * a look-alike of a deactivated person cannot slip through on a wide margin.
 */
export class AccessGallery implements FaceMatcher {
  readonly gallery: Gallery;
  private unsubscribe: (() => void) | null = null;
  rebuilds = 0;

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    readonly modelId: string,
    dim: number,
    private readonly decision: () => { threshold: number; margin: number },
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.gallery = new Gallery(dim);
  }

  async start(): Promise<void> {
    this.rebuild();
    await this.gallery.accelerate();
    this.unsubscribe = this.bus.on('people.changed', () => this.rebuild());
  }

  rebuild(): void {
    const entries: Array<{ personId: string; embedding: Float32Array }> = [];
    // One query for the whole gallery (a rebuild runs on the main thread at every people change).
    for (const t of this.store.templates.forModel(this.modelId)) {
      if (t.embedding.length !== this.gallery.dim) {
        this.warn(`template ${t.id} of person ${t.personId} has ${t.embedding.length} values, the embedder gives ${this.gallery.dim}: skipped`);
        continue;
      }
      entries.push({ personId: t.personId, embedding: t.embedding });
    }
    this.gallery.load(entries);
    this.rebuilds++;
  }

  match(embedding: Float32Array): Promise<MatchResult> {
    const { threshold, margin } = this.decision();
    return this.gallery.matchAsync(embedding, threshold, margin);
  }

  people(): number {
    return this.gallery.people;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.gallery.release();
  }
}
