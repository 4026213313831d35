/**
 * The type of blendct's exported schemas (`ParallelGeometrySchema`, `ModelCardSchema`). They are zod
 * schemas at run time; typing them with this small interface keeps zod's own types, and so a zod version,
 * out of blendct's public API and its documentation.
 * @module
 */

/** One problem a schema found in the data. */
export interface SchemaIssue {
  /** Keys and array indices from the root to the offending value; empty for the root itself. */
  readonly path: readonly PropertyKey[];
  /** What is wrong, in words. */
  readonly message: string;
}

/** What {@linkcode Schema.safeParse} returns: the checked value, or the issues that rejected the data. */
export type SafeParseResult<T> =
  | { success: true; data: T }
  | { success: false; error: { issues: readonly SchemaIssue[] } };

/** A schema that checks unknown data (typically parsed JSON) and returns it typed, defaults filled in. */
export interface Schema<T> {
  /** Returns the checked value, or throws zod's `ZodError` listing the issues. */
  parse(data: unknown): T;
  /** Like {@linkcode Schema.parse}, but returns the issues instead of throwing. */
  safeParse(data: unknown): SafeParseResult<T>;
}
