import { describe, expect, it } from 'vitest';
import { REDACTED, redact, touchesSensitive } from './redact.js';

describe('redact', () => {
  it('replaces top-level and dotted values and leaves the original alone', () => {
    const params = { user: 'flynn', password: 'grid', card: { number: '4111', expiry: '12/30' } };
    expect(redact(params, ['password', 'card.number'])).toEqual({
      user: 'flynn',
      password: REDACTED,
      card: { number: REDACTED, expiry: '12/30' },
    });
    expect(params.password).toBe('grid');
    expect(params.card.number).toBe('4111');
  });

  it('walks lists by index or over every item', () => {
    const params = { cards: [{ number: '1' }, { number: '2' }] };
    expect(redact(params, ['cards.1.number'])).toEqual({
      cards: [{ number: '1' }, { number: REDACTED }],
    });
    expect(redact(params, ['cards.number'])).toEqual({
      cards: [{ number: REDACTED }, { number: REDACTED }],
    });
  });

  it('ignores paths that lead nowhere, and never follows the prototype', () => {
    const params = { a: 1, b: 'x' };
    expect(redact(params, ['c', 'a.b', 'b.length', '__proto__.x', 'constructor'])).toEqual(params);
  });

  it('tells which paths hold a sensitive value: at, under or above one, across list items', () => {
    const paths = ['password', 'card.number', 'cards.cvc'];
    expect(touchesSensitive(['password'], paths)).toBe(true);
    expect(touchesSensitive(['card', 'number'], paths)).toBe(true);
    expect(touchesSensitive(['card'], paths)).toBe(true);
    expect(touchesSensitive([], paths)).toBe(true);
    expect(touchesSensitive(['cards', 2, 'cvc'], paths)).toBe(true);
    expect(touchesSensitive(['password', 'x'], paths)).toBe(true);
    expect(touchesSensitive(['user'], paths)).toBe(false);
    expect(touchesSensitive(['card', 'expiry'], paths)).toBe(false);
    expect(touchesSensitive(['cards', 2, 'expiry'], paths)).toBe(false);
    expect(touchesSensitive(['user'], [])).toBe(false);
  });
});
