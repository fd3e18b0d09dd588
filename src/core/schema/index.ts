// Wire schemas shared by the center, the agent and the web UI (DESIGN §2 core, §3, §6).
export * from './common.js';
export * from './criteria.js';
export * from './event.js';
export * from './session.js';
export * from './agent.js';
export * from './command.js';
export * from './auth.js';
export * from './seed-examples.js';
export * from './dialog.js';
export * from './org.js';
export * from './frames.js';
