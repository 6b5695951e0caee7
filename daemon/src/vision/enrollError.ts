/**
 * Why an enrollment (or an embedding request) was refused; nothing was written. The one error of
 * the enrollment path: the analysis (vision), the duplicate check (people registry), the admin's
 * enrollment worker (it crosses the thread boundary as plain fields and is rebuilt) and the HTTP
 * and CLI answers all use it.
 */
export type EnrollErrorKind =
  | 'not_an_image'
  | 'no_face'
  | 'multiple_faces'
  | 'poor_quality'
  | 'duplicate'
  | 'not_found'
  | 'invalid'
  /** Face recognition is not running (models not loaded, worker down). */
  | 'unavailable';

export class EnrollError extends Error {
  constructor(
    readonly kind: EnrollErrorKind,
    message: string,
    /** Which image (0-based) the error is about, when it is about one. */
    readonly imageIndex: number | null = null,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EnrollError';
  }

  /** The fields that cross a worker boundary. */
  toJSON(): { kind: EnrollErrorKind; message: string; imageIndex: number | null; details: Record<string, unknown> } {
    return { kind: this.kind, message: this.message, imageIndex: this.imageIndex, details: this.details };
  }

  static from(fields: { kind: string; message: string; imageIndex: number | null; details: Record<string, unknown> }): EnrollError {
    return new EnrollError(fields.kind as EnrollErrorKind, fields.message, fields.imageIndex, fields.details);
  }
}
