/**
 * What travels with every RPC request and event: the trace id, the call-id
 * stack (Nameko's `call_id_stack`) and user context data.
 */
export interface CallHeaders {
  traceId: string;
  callIdStack: string[];
  data: Record<string, unknown>;
}
