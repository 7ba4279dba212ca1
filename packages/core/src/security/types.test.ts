import { describe, expectTypeOf, it } from 'vitest';
import type { ClusterAuth, ClusterClient, ConnectOptions, SecurityConfig } from '../index.js';

describe('the security types users see', () => {
  it('take the secret, or a file holding it, in connect() options and instance configs', () => {
    expectTypeOf<ConnectOptions['security']>().toEqualTypeOf<SecurityConfig | undefined>();
    expectTypeOf<SecurityConfig>().toEqualTypeOf<{ secret?: string; secretFile?: string }>();
    expectTypeOf<ClusterClient['auth']>().toEqualTypeOf<ClusterAuth>();
    expectTypeOf<ClusterAuth['refused']>().toEqualTypeOf<number>();
    // @ts-expect-error a secret is text, not a number
    const wrong: SecurityConfig = { secret: 42 };
    expectTypeOf(wrong).toEqualTypeOf<SecurityConfig>();
  });
});
