export { startHttp } from './http.js';
export { startExpress } from './express.js';
export { startFastify } from './fastify.js';
export { createHub } from './shared.js';
export type { Running } from './shared.js';
