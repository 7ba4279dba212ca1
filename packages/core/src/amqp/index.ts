export { AmqpConnection, redactUrl, type AmqpConnectionOptions } from './connection.js';
export { ChannelSlot } from './channel.js';
export { DeclareCache, publishConfirmed, type Outgoing } from './publish.js';
export { copyProperties, deadLetter, deadQueueName } from './dead-letter.js';
export { HEADER_PREFIX, TRACE_ID_KEY, decodeHeaders, encodeHeaders } from './headers.js';
export { fromNamekoError, toNamekoError, type NamekoErrorDict } from './errors.js';
