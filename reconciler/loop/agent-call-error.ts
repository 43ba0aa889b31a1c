/**
 * The error of a failed call to an agent, apart from the client that makes the calls: the API answers with it
 * without loading the HTTP client (undici) at import.
 */

/** A failed call to an agent, phrased for a person. */
export class AgentCallError extends Error {
  constructor(readonly node: string, message: string, readonly status?: number, readonly code?: string) {
    super(message);
    this.name = "AgentCallError";
  }
}
