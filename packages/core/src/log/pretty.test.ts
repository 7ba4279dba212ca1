import { describe, expect, it } from 'vitest';
import { formatPretty } from './pretty.js';

describe('formatPretty', () => {
  it('escapes control characters from the wire so that a record cannot forge a line or colour the terminal', () => {
    const line = formatPretty(
      {
        time: 0,
        level: 'info',
        msg: 'greeted bob\n12:00:00.000 Greeting/deadbeef ERROR forged\x1b[31m',
        service: 'Greeting',
        name: 'a\rb\u009b',
      },
      false,
    );
    // eslint-disable-next-line no-control-regex -- looking for them
    expect(line).not.toMatch(/[\n\r\x1b\u009b]/);
    expect(line).toContain('greeted bob\\n12:00:00.000 Greeting/deadbeef ERROR forged\\x1b[31m');
    expect(line).toContain('name=a\\x0db\\x9b');
  });

  it('shows a record whose trace id is not a string instead of losing it', () => {
    const line = formatPretty(
      { time: 0, level: 'info', msg: 'still here', traceId: 12345 as unknown as string },
      false,
    );
    expect(line).toContain('[12345]');
    expect(line).toContain('still here');
  });
});
