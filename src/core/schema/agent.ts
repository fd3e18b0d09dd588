// Agent wire schemas (DESIGN §3, §4): the body of POST /api/agents (add or update by name) and the
// agent view returned by GET /api/agents. The view never carries the token.
import * as z from 'zod';
import { idSchema } from './common.js';

export const TAG_MAX_LENGTH = 64;
export const MAX_TAGS = 32;

const tagSchema = z
  .string()
  .trim()
  .min(1)
  .max(TAG_MAX_LENGTH, `a tag is limited to ${TAG_MAX_LENGTH} characters`)
  .regex(/^[^,\s](?:[^,]*[^,\s])?$/, 'a tag cannot contain a comma');

/** Tags as the seed writes them ("comma-separated") or as an array; empty items are dropped, duplicates removed. */
export const tagsSchema = z
  .union([z.string().max(4096), z.array(z.string().max(TAG_MAX_LENGTH * 2)).max(MAX_TAGS * 2)])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((t) => t.trim()).filter((t) => t !== ''))
  .pipe(z.array(tagSchema).max(MAX_TAGS, `at most ${MAX_TAGS} tags`))
  .transform((tags) => {
    const seen = new Set<string>();
    return tags.filter((t) => (seen.has(t.toLowerCase()) ? false : (seen.add(t.toLowerCase()), true)));
  });

export const agentNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64, 'an agent name is limited to 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'an agent name uses letters, digits, "-", "_" and "." (e.g. edge-fra-1)');

/** Agent tokens are secrets chosen by the operator (or generated): at least 128 bits' worth of text. */
export const agentTokenSchema = z
  .string()
  .min(22, 'an agent token needs at least 22 characters (128 random bits in base64)')
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'an agent token is printable ASCII without spaces');

export const agentUpsertSchema = z
  .object({
    name: agentNameSchema,
    url: z
      .url({ protocol: /^https?$/, error: 'url must be an http(s) URL such as http://10.0.0.5:9070' })
      .max(2048),
    /** Required when the agent is new; when omitted on update the stored token is kept. */
    token: agentTokenSchema.optional(),
    enabled: z.boolean().default(true),
    tags: tagsSchema.default([]),
    /** the agent's organisation (platform admins only; others add to their own) */
    org_id: idSchema.optional(),
  })
  .strict();
export type AgentUpsert = z.infer<typeof agentUpsertSchema>;

export const agentSourceSchema = z
  .object({
    type: z.string().max(32),
    detail: z.string().max(512).optional(),
  })
  .strict();
export type AgentSource = z.infer<typeof agentSourceSchema>;

export const agentViewSchema = z.object({
  id: idSchema,
  org_id: idSchema,
  name: z.string(),
  url: z.string(),
  enabled: z.boolean(),
  tags: z.array(z.string()),
  status: z.enum(['online', 'offline']),
  last_seen: z.string().nullable(),
  version: z.string().nullable(),
  sources: z.array(agentSourceSchema),
});
export type AgentView = z.infer<typeof agentViewSchema>;
