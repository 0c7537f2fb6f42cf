export { HttpServer, type HttpClient, type HttpHooks, type HttpServerOptions } from './server.js';
export { parseRange, type ByteRange } from './range.js';
