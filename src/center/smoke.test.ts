import { it, expect } from 'vitest';
import { testCenter } from './testing.js';
it('smoke', async () => {
  let t = Date.now();
  const c = await testCenter();
  console.log('create', Date.now() - t); t = Date.now();
  await c.addAgent('edge-1', { tags: ['edge'] });
  console.log('agent', Date.now() - t); t = Date.now();
  await c.close();
  console.log('close', Date.now() - t); t = Date.now();
  expect(1).toBe(1);
});
