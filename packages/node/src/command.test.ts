import { describe, expect, it } from 'vitest';
import { parseCommand } from './command.js';

describe('parseCommand', () => {
  it('splits words on whitespace', () => {
    expect(parseCommand('svc instance  --config=conf/web.yml')).toEqual({
      kind: 'argv',
      file: 'svc',
      args: ['instance', '--config=conf/web.yml'],
    });
  });

  it('keeps quoted words together and honours escapes', () => {
    expect(parseCommand(`node -e 'console.log(1 + 2)' "a \\"b\\"" c\\ d`)).toEqual({
      kind: 'argv',
      file: 'node',
      args: ['-e', 'console.log(1 + 2)', 'a "b"', 'c d'],
    });
  });

  it('runs commands with shell syntax through a shell', () => {
    for (const line of ['a | b', 'echo $HOME', 'FOO=1 node x.js', 'ls *.js', 'a && b']) {
      expect(parseCommand(line)).toEqual({ kind: 'shell', script: line });
    }
  });

  it('treats shell characters inside single quotes as text', () => {
    expect(parseCommand(`echo 'a | b $X'`)).toEqual({
      kind: 'argv',
      file: 'echo',
      args: ['a | b $X'],
    });
  });

  it('rejects unterminated quotes and empty commands', () => {
    expect(() => parseCommand(`echo 'oops`)).toThrow('unterminated single quote');
    expect(() => parseCommand(`echo "oops`)).toThrow('unterminated double quote');
    expect(() => parseCommand('   ')).toThrow('empty command');
  });
});
