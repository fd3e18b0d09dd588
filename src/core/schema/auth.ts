// Operator login wire schema (POST /api/login).
import * as z from 'zod';

export const loginSchema = z
  .object({
    username: z.string().min(1).max(128),
    password: z.string().min(1).max(1024),
  })
  .strict();
export type Login = z.infer<typeof loginSchema>;

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
