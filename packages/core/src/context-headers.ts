/**
 * What travels with every RPC request and event: the trace id, the call-id
 * stack (Nameko's `call_id_stack`) and user context data; and, as W3C Trace
 * Context has it, the id of the sender's span (the receiver's parent), the
 * trace flags and the vendors' `tracestate`.
 */
export interface CallHeaders {
  traceId: string;
  callIdStack: string[];
  data: Record<string, unknown>;
  /** the sending span's id, 16 hex characters: the parent of the span that handles it */
  spanId?: string;
  /** W3C trace flags (bit 0: sampled) */
  traceFlags?: number;
  /** W3C `tracestate`, passed on as received */
  traceState?: string;
}
