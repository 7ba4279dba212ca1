export { ClusterAuth, type ClusterAuthOptions } from './auth.js';
export { defaultSecretFile, loadSecret, type SecretSource } from './secret.js';
