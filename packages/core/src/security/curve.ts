import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';

// ZeroMQ's CURVE (CurveZMQ) needs long-term Curve25519 key pairs. svc
// derives two from the cluster secret, so that every process of a cluster
// has them without exchanging anything: one for the listeners (ROUTER,
// `curveServer`) and one shared by every caller (DEALER). A listener's ZAP
// handler accepts a caller only when its public key is the cluster's
// caller key, which only a holder of the secret can present (CURVE proves
// possession of the matching secret key).

export interface CurveKeys {
  serverPublic: string;
  serverSecret: string;
  clientPublic: string;
  clientSecret: string;
  /** the callers' public key, raw, as a ZAP request carries it */
  clientPublicRaw: Buffer;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Z85 (ZeroMQ RFC 32) of bytes whose length is a multiple of 4. */
export function z85(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = bytes.readUInt32BE(i);
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = Z85[value % 85]! + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** PKCS#8 DER header of a raw X25519 private key (RFC 8410). */
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

function keyPair(seed: Buffer): { publicRaw: Buffer; secretRaw: Buffer } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { publicRaw: spki.subarray(spki.length - 32), secretRaw: seed };
}

/** The cluster's two CURVE key pairs, derived from its secret. */
export function curveKeys(secret: Buffer): CurveKeys {
  const seed = (label: string) => createHmac('sha256', secret).update(label).digest();
  const server = keyPair(seed('svc curve server v1'));
  const client = keyPair(seed('svc curve client v1'));
  return {
    serverPublic: z85(server.publicRaw),
    serverSecret: z85(server.secretRaw),
    clientPublic: z85(client.publicRaw),
    clientSecret: z85(client.secretRaw),
    clientPublicRaw: client.publicRaw,
  };
}
