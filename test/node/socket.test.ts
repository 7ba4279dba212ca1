import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bindSocket } from '@svc/node';

describe('a bound socket handed to a child', () => {
  it('hands a descriptor that a child process listens and serves on', async () => {
    const socket = bindSocket('127.0.0.1', 0);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer((c) => c.end(String(process.pid))).listen({ fd: 3 }, () => process.stdout.write('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit', socket.fd] },
    );
    try {
      await new Promise((resolve) => child.stdout?.once('data', resolve));
      const reply = await new Promise<string>((resolve, reject) => {
        const c = connect(socket.port, '127.0.0.1');
        let data = '';
        c.on('data', (d: Buffer) => (data += d.toString()));
        c.on('end', () => resolve(data));
        c.on('error', reject);
      });
      expect(reply).toBe(String(child.pid));
    } finally {
      child.kill('SIGKILL');
      socket.close();
    }
  });
});
