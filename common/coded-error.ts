/**
 * One error class for both services: a coded error carries its code (AGENT_ERR_… or RECON_ERR_…), the HTTP
 * status of that code and a message for people; servers answer it as `{ error: { code, message, details? } }`.
 * Each service keeps its own table of codes and statuses and makes its class and factory here.
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  toJSON(): { error: { code: C; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}

/** A service's error class (named `name`) and factory over its table of code → HTTP status. */
export function codedErrors<const T extends Readonly<Record<string, number>>>(name: string, statuses: T) {
  type Code = keyof T & string;
  class ServiceError extends CodedError<Code> {
    constructor(code: Code, message: string, details?: unknown) {
      super(code, statuses[code]!, message, details);
      this.name = name;
    }
  }
  const create = (code: Code, message: string, details?: unknown): ServiceError => new ServiceError(code, message, details);
  return { ErrorClass: ServiceError, create };
}
