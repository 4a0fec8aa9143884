/**
 * A failure the operator of the server or the CLI can act on (bad setting, data dir in use,
 * unwritable disk, port taken, failed migration). Its message is complete and readable as it
 * is: the CLI prints it on one line, without a stack trace, and exits with `exitCode`: 1, or 2
 * when what was asked cannot be done in this version at all (retrying will not help).
 */
export class OperatorError extends Error {
  override name = 'OperatorError';
  readonly exitCode: number;
  constructor(message: string, options?: ErrorOptions & { exitCode?: number }) {
    super(message, options);
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** A field-level validation message, as sent in problem+json `errors`. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The one error type the domain throws. `code` is stable and documented; `detail` is safe
 * to show to the caller. Anything that is not an AppError is an internal error (500).
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** Extra problem members (RFC 9457 extensions), e.g. the plan and limit of plan_limit_reached. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

export const errors = {
  validation: (errs: FieldError[], detail = 'The request has invalid fields.') =>
    new AppError(400, 'validation_failed', 'Validation failed', detail, errs),
  badRequest: (code: string, detail: string) => new AppError(400, code, 'Bad request', detail),
  malformedJson: () =>
    new AppError(400, 'malformed_json', 'Malformed JSON', 'The request body is not valid JSON.'),
  unsupportedMediaType: () =>
    new AppError(415, 'unsupported_media_type', 'Unsupported media type', 'Send the body as application/json.'),
  payloadTooLarge: (limit: string) =>
    new AppError(413, 'payload_too_large', 'Payload too large', `The request body is larger than ${limit}.`),
  /** RFC 6750 §3.1: no error attribute when no credentials were sent at all. */
  unauthorized: (code: string, detail: string) =>
    new AppError(401, code, 'Unauthorized', detail, undefined, {
      'www-authenticate': code === 'missing_api_key' ? 'Bearer realm="linkqr"' : 'Bearer realm="linkqr", error="invalid_token"',
    }),
  forbidden: (code: string, detail: string) => new AppError(403, code, 'Forbidden', detail),
  notFound: (what: string) => new AppError(404, 'not_found', 'Not found', `${what} was not found.`),
  routeNotFound: () => new AppError(404, 'route_not_found', 'Not found', 'No such API route.'),
  methodNotAllowed: (method: string, allow: string) =>
    new AppError(405, 'method_not_allowed', 'Method not allowed', `This path does not answer ${method}; it answers ${allow}.`, undefined, { allow }),
  conflict: (code: string, detail: string, errs?: FieldError[]) => new AppError(409, code, 'Conflict', detail, errs),
  /** The database cannot be written (disk full, read-only, failing; PostgreSQL out of reach): nothing was changed; try again later. */
  storageUnavailable: (retryAfterSeconds: number) =>
    new AppError(
      503,
      'storage_unavailable',
      'Service unavailable',
      'The server cannot write to its database right now (a disk full, read-only or failing, or a database server out of reach), so nothing was changed. Try again after Retry-After seconds.',
      undefined,
      { 'retry-after': String(retryAfterSeconds) },
    ),
  /** For the CLI: a usage or input problem, reported without a stack trace. */
  usage: (detail: string) => new AppError(2, 'usage', 'Usage', detail),
};
