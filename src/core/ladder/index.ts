// The ladder model and its drawing, shared by the web UI and the center's ladder.svg/ladder.png.
export * from './types.js';
export { buildLadder, endpointKey, DEFAULT_DEDUPE_WINDOW_US } from './build.js';
export * from './svg.js';
export * from './window.js';
export { readSipText, tagOf, branchOf, canonicalName } from './sip-text.js';
