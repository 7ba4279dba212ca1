// @svc/core/zookeeper: the registry of `registry: zookeeper://host:port/root`.

export { ZooKeeperRegistry } from '../registry/zookeeper.js';
