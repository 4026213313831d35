/**
 * The error type for problems a user can fix: bad flags, bad files, mismatched shapes. Tasks print its
 * message as one line and exit non-zero; anything else is a bug and keeps its stack trace.
 * @module
 */

/** A one-line, user-facing error: says what is wrong and how to fix it. */
export class UserError extends Error {
  /** Makes the error; line breaks in `message` become single spaces, so it prints as one line. */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "UserError";
  }
}
