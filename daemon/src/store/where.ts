/** Builds a WHERE clause from optional filters, keeping conditions and their bound values together. */
export class Where {
  private readonly conditions: string[] = [];
  readonly args: unknown[] = [];

  /** Adds `condition` (with `?` placeholders) when `value` is set; returns this for chaining. */
  when(value: unknown, condition: string, ...args: unknown[]): this {
    if (value !== undefined && value !== null && value !== '') {
      this.conditions.push(condition);
      this.args.push(...(args.length ? args : [value]));
    }
    return this;
  }

  toString(): string {
    return this.conditions.length ? 'WHERE ' + this.conditions.join(' AND ') : '';
  }
}
